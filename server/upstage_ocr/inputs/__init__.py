"""Reading inputs: documents (type, limits, hash, pages as images), office conversion, URL downloads."""
