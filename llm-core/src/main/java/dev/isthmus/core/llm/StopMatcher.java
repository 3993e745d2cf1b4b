package dev.isthmus.core.llm;

import java.util.List;

/**
 * Holds back generated text that might be the start of a stop string, so stop strings split over several
 * tokens are found and never emitted.
 */
final class StopMatcher {
    private final List<String> stops;
    private final StringBuilder pending = new StringBuilder();
    private boolean stopped;

    StopMatcher(List<String> stops) {
        this.stops = stops.stream().filter(s -> !s.isEmpty()).toList();
    }

    /** Adds text; returns the part that is now safe to emit. */
    String push(String text) {
        if (stopped) {
            return "";
        }
        pending.append(text);
        int earliest = -1;
        for (String stop : stops) {
            int at = pending.indexOf(stop);
            if (at >= 0 && (earliest < 0 || at < earliest)) {
                earliest = at;
            }
        }
        if (earliest >= 0) {
            stopped = true;
            String out = pending.substring(0, earliest);
            pending.setLength(0);
            return out;
        }
        int hold = 0;
        String held = pending.toString();
        for (String stop : stops) {
            for (int len = Math.min(stop.length() - 1, held.length()); len > hold; len--) {
                if (held.regionMatches(held.length() - len, stop, 0, len)) {
                    hold = len;
                    break;
                }
            }
        }
        String out = pending.substring(0, pending.length() - hold);
        pending.delete(0, pending.length() - hold);
        return out;
    }

    /** Releases held text at the end of generation (when no stop string completed). */
    String flush() {
        String out = stopped ? "" : pending.toString();
        pending.setLength(0);
        return out;
    }

    boolean stopped() {
        return stopped;
    }
}
