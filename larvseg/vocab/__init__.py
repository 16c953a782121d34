"""Vocabulary: the packaged WordNet 3.0 table and choosing what to segment by synset."""
