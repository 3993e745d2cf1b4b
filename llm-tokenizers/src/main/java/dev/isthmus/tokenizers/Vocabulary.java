package dev.isthmus.tokenizers;

import java.util.HashMap;
import java.util.Map;

/**
 * Token strings by id and ids by string. Ids may have holes (a {@code tokenizer.json} whose added tokens
 * skip ids); a hole has a null string. {@code special} marks control tokens that decoding may skip.
 */
final class Vocabulary {
    private final String[] tokens;
    private final boolean[] special;
    private final Map<String, Integer> ids;

    Vocabulary(String[] tokens, boolean[] special) {
        this.tokens = tokens.clone();
        this.special = special.clone();
        this.ids = HashMap.newHashMap(tokens.length);
        for (int id = 0; id < tokens.length; id++) {
            if (tokens[id] != null) {
                ids.putIfAbsent(tokens[id], id); // the first id keeps a duplicated string, as llama.cpp does
            }
        }
    }

    int size() {
        return tokens.length;
    }

    boolean contains(int id) {
        return id >= 0 && id < tokens.length && tokens[id] != null;
    }

    /** The token string of {@code id}, or null for an id outside the vocabulary. */
    String token(int id) {
        return id >= 0 && id < tokens.length ? tokens[id] : null;
    }

    /** The id of a token string, or -1. */
    int id(String token) {
        Integer id = ids.get(token);
        return id == null ? -1 : id;
    }

    boolean isSpecial(int id) {
        return special[id];
    }
}
