"""The CA-Classifier (the paper's contribution): memory bank, attention and L_aux, diagnostic."""
