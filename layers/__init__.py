"""The database: models, migrations, the embedded PostGIS cluster, plan versions, imports, catalogue.

The only package that writes SQL.
"""
