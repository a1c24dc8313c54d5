"""Reading request bodies that anyone can send: JSON and form data, for the API (DRF's parser) and the webhooks alike.

- Depth. A JSON body nested deeper than `JSON_MAX_DEPTH` levels is refused. Python's C parser guards its own
  nesting: at ~1,000 levels it raises `RecursionError` (caught here, not a 500); anything over 64 is then found by the
  walk every parsed body gets anyway (below), which does not recurse. Code walking a value recursively later
  (hashing it, redacting it) is safe below 64 levels, and no API body or provider payload comes close.
- What PostgreSQL cannot store. Its text and JSONB types hold neither NUL characters nor lone UTF-16 surrogates (a
  JavaScript sender cutting an emoji in half writes `"\\ud83d"`), and JSONB no NaN or Infinity (Python reads `NaN`,
  `Infinity` and `1e999` as floats). The API refuses such a body (400); the webhooks, which must keep every delivery a
  provider authenticated, make it storable with `json_storable` (U+FFFD for the characters, null for the numbers)
  and keep the raw text beside it.
- Form fields. At most `DATA_UPLOAD_MAX_NUMBER_FIELDS`, as Django's own form parsing.

Errors are `BodyUnreadable` (a ValueError with a `code` and a `detail`); the DRF parser turns them into a 400 in the one
error shape."""

import codecs
import json
import math
import re
import sys
from collections.abc import Iterable
from typing import Any, cast
from urllib.parse import parse_qsl

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils.json import strict_constant

JSON_MAX_DEPTH = 64

# Characters PostgreSQL text and JSONB cannot hold: NUL and (lone) surrogates. In a parsed value a surrogate is always
# lone: a valid pair was already read as the one character it encodes.
_UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT_CHARACTER = "\ufffd"
_TOO_DEEP = f"The JSON body is nested deeper than {JSON_MAX_DEPTH} levels."


class BodyUnreadable(ValueError):
    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code, self.detail = code, detail


def _int_or_infinity(digits: str) -> int | float:
    # An integer longer than Python converts (sys.get_int_max_str_digits) is read as an overflowing number.
    limit = sys.get_int_max_str_digits()
    return int(digits) if not limit or len(digits.lstrip("-")) <= limit else math.inf


def json_body_parse(raw: bytes | str) -> Any:
    """The JSON value of a body, as Python's parser reads it: NaN, Infinity and numbers too large for a float (or an
    int) come back as non-finite floats. Raises BodyUnreadable: `invalid_json` (not UTF-8, not JSON),
    `json_too_deep` (deeper than the parser can go; check JSON_MAX_DEPTH with `json_storable` or
    `json_unstorable_reason`)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise BodyUnreadable("invalid_json", "The body is not valid JSON.") from exc
    try:
        # The C parser counts its own nesting: far too deep a body (100,000 levels) stops it at the recursion limit.
        return json.loads(text)
    except RecursionError as exc:
        raise BodyUnreadable("json_too_deep", _TOO_DEEP) from exc
    except ValueError:
        pass
    try:  # Only an integer too long to convert is worth a second, slower reading.
        return json.loads(text, parse_int=_int_or_infinity)
    except RecursionError as exc:
        raise BodyUnreadable("json_too_deep", _TOO_DEEP) from exc
    except ValueError as exc:
        raise BodyUnreadable("invalid_json", "The body is not valid JSON.") from exc


def _text_unstorable(text: str) -> bool:
    if "\x00" in text:
        return True
    if text.isascii():  # constant time in CPython
        return False
    try:
        text.encode("utf-8")  # in C, faster than a regular expression: only a surrogate fails
    except UnicodeEncodeError:
        return True
    return False


def _scan(value: object, max_depth: int | None) -> bool:
    """Walk `value` without recursion (and without a function call per item: it runs on every delivery): True when
    PostgreSQL cannot store it as it is. Raises BodyUnreadable(`json_too_deep`) when arrays and objects nest deeper
    than `max_depth`."""
    if not isinstance(value, dict | list | tuple):
        return _text_unstorable(value) if isinstance(value, str) else _number_unstorable(value)
    text_unstorable, isfinite = _text_unstorable, math.isfinite
    unstorable = False
    stack = [(value, 1)]
    while stack:
        container, depth = stack.pop()
        if max_depth is not None and depth > max_depth:
            raise BodyUnreadable("json_too_deep", f"The JSON body is nested deeper than {max_depth} levels.")
        if isinstance(container, dict):
            if not unstorable:
                for key in container:
                    if type(key) is not str or text_unstorable(key):
                        unstorable = True
                        break
            items: Iterable[Any] = container.values()
        else:
            items = container
        for item in items:
            kind = type(item)
            if kind is str:  # the exact types first: the common case costs no isinstance() call
                if not unstorable and text_unstorable(item):
                    unstorable = True
            elif kind is dict or kind is list:
                stack.append((item, depth + 1))
            elif kind is float:
                if not unstorable and not isfinite(item):
                    unstorable = True
            elif isinstance(item, dict | list | tuple):
                stack.append((item, depth + 1))
            elif not unstorable and (_text_unstorable(item) if isinstance(item, str) else _number_unstorable(item)):
                unstorable = True
    return unstorable


def _number_unstorable(value: object) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _storable_scalar(value):
    if isinstance(value, str):
        return _UNSTORABLE_TEXT.sub(REPLACEMENT_CHARACTER, value) if _text_unstorable(value) else value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _storable_copy(value):
    if not isinstance(value, dict | list | tuple):
        return _storable_scalar(value)
    root: dict | list = {} if isinstance(value, dict) else []
    stack: list[tuple[Any, Any]] = [(value, root)]
    while stack:
        source, target = stack.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in items:
            if isinstance(item, dict | list | tuple):
                child: object = {} if isinstance(item, dict) else []
                stack.append((item, child))
            else:
                child = _storable_scalar(item)
            if isinstance(target, dict):
                target[_storable_scalar(key if isinstance(key, str) else str(key))] = child
            else:
                target.append(child)
    return root


def json_storable(value: object, *, max_depth: int | None = None) -> tuple[object, bool]:
    """(`value` as PostgreSQL can store it in JSONB, whether that changed anything): NUL characters and lone
    surrogates become U+FFFD (in keys too), NaN and infinite numbers null, keys strings, tuples lists. A value that
    is fine is returned as it is (checked without copying it). With `max_depth`, BodyUnreadable(`json_too_deep`) for
    deeper nesting. Iterative: any depth is safe."""
    if not _scan(value, max_depth):
        return value, False
    return _storable_copy(value), True


def json_unstorable_reason(value: object, *, max_depth: int | None = None) -> str:
    """Why PostgreSQL could not store `value` ("" when it can); BodyUnreadable(`json_too_deep`) as json_storable."""
    if not _scan(value, max_depth):
        return ""
    return "a NUL character, a lone UTF-16 surrogate or a number out of range (NaN, Infinity or too large)"


def form_body_load(raw: bytes, *, max_fields: int | None = None) -> tuple[dict, bool]:
    """The fields of an `application/x-www-form-urlencoded` body (a field sent twice: the list of its values) made
    storable, and whether that changed anything (bytes that are not UTF-8 and NUL characters become U+FFFD). At most
    `max_fields` fields (default DATA_UPLOAD_MAX_NUMBER_FIELDS, as Django's own parsing): more raises
    BodyUnreadable(`too_many_fields`)."""
    if max_fields is None:
        max_fields = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    # surrogateescape: a byte that is not UTF-8, raw or %-encoded, is read as a lone surrogate, which json_storable
    # then flags and replaces (Django's QueryDict would silently read the whole body as Latin-1 instead).
    text = raw.decode("utf-8", "surrogateescape")
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, encoding="utf-8", errors="surrogateescape", max_num_fields=max_fields
        )
    except ValueError as exc:
        raise BodyUnreadable("too_many_fields", f"The form has more than {max_fields} fields.") from exc
    form: dict = {}
    for key, value in pairs:
        if key in form:
            form[key] = [*form[key], value] if isinstance(form[key], list) else [form[key], value]
        else:
            form[key] = value
    return cast("tuple[dict, bool]", json_storable(form))  # a dict comes back a dict


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing with a 400 (never a 500) what would break later: nesting deeper than
    JSON_MAX_DEPTH, and values PostgreSQL cannot store (NaN, Infinity, numbers out of range, NUL characters, lone
    surrogates)."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})  # type: ignore[attr-defined]  # not in DRF's stubs
        # Every error keeps DRF's code, `parse_error`: the one the OpenAPI document lists for these 400s.
        try:
            text = codecs.getreader(encoding)(stream).read()
            value = json.loads(text, parse_constant=strict_constant if self.strict else None)
            reason = json_unstorable_reason(value, max_depth=JSON_MAX_DEPTH)
        except BodyUnreadable as exc:
            raise ParseError(exc.detail) from exc
        except RecursionError as exc:
            raise ParseError(_TOO_DEEP) from exc
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        if reason and self.strict:
            raise ParseError(f"JSON parse error - the body holds {reason}.")
        return value
