"""Schema operations for migrations on tables that may already be large, each with the migration state of the plain
Django operation it stands for; elsewhere than PostgreSQL (SQLite for `make run`) they are that plain operation.

- Indexes are built and dropped CONCURRENTLY (writes go on meanwhile; the migration must say `atomic = False`).
- A unique constraint's index is built CONCURRENTLY, then attached as the constraint (a brief lock).
- A nullable foreign key's column is added alone (no rewrite), then its constraint NOT VALID and validated apart
  (the validating scan lets writes go on)."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations import AddConstraint, AddField, AddIndex, RemoveIndex
from django.db.models import ForeignKey, UniqueConstraint


def _on_postgresql(schema_editor: BaseDatabaseSchemaEditor) -> bool:
    return schema_editor.connection.vendor == "postgresql"


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if _on_postgresql(schema_editor):
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if _on_postgresql(schema_editor):
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class RemoveIndexConcurrentlyOnPostgres(RemoveIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if _on_postgresql(schema_editor):
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return RemoveIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if _on_postgresql(schema_editor):
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return RemoveIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class AddUniqueConstraintConcurrentlyOnPostgres(AddConstraint):
    """AddConstraint of a UniqueConstraint on plain fields (no condition, expression or option)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if not _on_postgresql(schema_editor):
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        constraint = self.constraint
        if not isinstance(constraint, UniqueConstraint) or not constraint.fields or constraint.condition:
            raise ValueError("only a UniqueConstraint on plain fields can be built concurrently")
        if schema_editor.connection.in_atomic_block:
            raise ValueError("a concurrent index needs a migration with `atomic = False`")
        model = to_state.apps.get_model(app_label, self.model_name)
        quote = schema_editor.quote_name
        table, name = quote(model._meta.db_table), quote(constraint.name)
        columns = ", ".join(quote(model._meta.get_field(field).column) for field in constraint.fields)
        schema_editor.execute(f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON {table} ({columns})")
        schema_editor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}")


class AddNullableForeignKeyOnPostgres(AddField):
    """AddField of a nullable ForeignKey without a default or an index of its own."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if not _on_postgresql(schema_editor):
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        model = to_state.apps.get_model(app_label, self.model_name)
        field = model._meta.get_field(self.name)
        if not isinstance(field, ForeignKey) or not field.null or field.has_default() or field.db_index:  # type: ignore[attr-defined]  # missing from the stubs
            raise ValueError("only a nullable foreign key without a default or an index can be added this way")
        quote = schema_editor.quote_name
        table = quote(model._meta.db_table)
        column_type = field.db_parameters(connection=schema_editor.connection)["type"]
        schema_editor.execute(f"ALTER TABLE {table} ADD COLUMN {quote(field.column)} {column_type} NULL")
        if field.db_constraint:  # type: ignore[attr-defined]  # missing from the stubs
            foreign_key = schema_editor._create_fk_sql(model, field, "_fk_%(to_table)s_%(to_column)s")
            schema_editor.execute(f"{foreign_key} NOT VALID")
            schema_editor.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {foreign_key.parts['name']}")
