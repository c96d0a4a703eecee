"""Offline converters from local / bundled datasets to verl parquet (``python data_preprocess/convert_parquet.py``)."""
