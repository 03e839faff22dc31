"""Output of a recognised result: export writers, reading order, schemas, search."""
