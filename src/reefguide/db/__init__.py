"""Database: async engine and sessions, the ORM base, Alembic migrations."""
