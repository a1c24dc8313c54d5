"""Audit actions are named once (audit/actions.py): production code passes the constants, never a free string."""

import ast
from pathlib import Path

from audit.actions import AuditAction

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = [
    path
    for path in ROOT.glob("*/**/*.py")
    if path.parts[len(ROOT.parts)] not in {"tests", ".venv", "docs"} and "migrations" not in path.parts
]


def test_every_action_is_a_dotted_word_pair_and_unique():
    values = [action.value for action in AuditAction]
    assert len(values) == len(set(values))
    for value in values:
        assert value.count(".") == 1 and value == value.lower() and len(value) <= 64, value


def _is_text(node) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def _string_actions(tree: ast.AST):
    """Lines of `action="…"` keyword arguments and `"action": "…"` dict entries whose value is a string literal."""
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "action" and _is_text(node.value):
            yield node.value.lineno
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "action" and _is_text(value):
                    yield value.lineno


def test_production_code_names_audit_actions_by_their_constant():
    offenders = []
    for path in PRODUCTION:
        source = path.read_text()
        if "audit" not in source and "AuditLog" not in source:
            continue
        for line in _string_actions(ast.parse(source)):
            text = source.splitlines()[line - 1].strip()
            if "add_argument" in text or "store_true" in text or "append" in text:
                continue  # argparse's `action=`
            offenders.append(f"{path.relative_to(ROOT)}:{line}: {text}")
    assert not offenders, "\n".join(offenders)
