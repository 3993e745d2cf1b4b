package dev.isthmus.tokenizers;

/** Ids of a vocabulary's special tokens; -1 where the model has none. */
record SpecialTokenIds(int bos, int eos, int eot, int unknown, int padding, int mask) {
}
