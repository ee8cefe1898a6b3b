from database.migrate import run_migrations_from_alembic

run_migrations_from_alembic()
