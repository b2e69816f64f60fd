"""The operations console: the admin site with a start page ("Heute") and the pages an
operations employee works from. Reads are tenant-scoped like the rest of the admin; every
change goes through the owning app's services."""
