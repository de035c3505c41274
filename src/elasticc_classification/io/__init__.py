"""Reading and writing files: the FITS reader, SNANA conversion, chunk layout, parquet, download."""
