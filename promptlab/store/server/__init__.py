"""A team server: the same history as the DuckDB file, kept in a PostgreSQL
database that several people write to at once. The server's schema, roles and
the rules it enforces whoever connects (``migrations.py``, ``roles.py``) live
here beside the store that reads and writes it, so the server, not each
client's good manners, decides who may write what."""
