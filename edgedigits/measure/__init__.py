"""What the project measures: the format benchmark, real photos and generated scenes."""
