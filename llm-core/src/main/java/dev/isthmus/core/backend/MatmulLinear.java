package dev.isthmus.core.backend;

import dev.isthmus.core.backend.cpu.CpuOps;
import dev.isthmus.core.tensor.Tensor;
import java.util.List;

/** {@link Backend#linear}'s default: every call multiplies through {@link Backend#matmul}, part by part. */
final class MatmulLinear implements Linear {
    private final Backend backend;
    private final Tensor[] parts;
    private final int[] partRows;
    private final float[] bias;
    private final Activation activation;
    private final int inputs;
    private final int outputs;

    MatmulLinear(Backend backend, List<Tensor> stacked, float[] bias, Activation activation) {
        this.backend = backend;
        this.parts = stacked.toArray(Tensor[]::new);
        this.activation = activation;
        this.partRows = new int[parts.length];
        this.inputs = checkShapes(parts, partRows);
        int total = 0;
        for (int r : partRows) {
            total += r;
        }
        this.outputs = total;
        if (bias != null && bias.length != outputs) {
            throw new IllegalArgumentException("bias of " + bias.length + " for " + outputs + " output rows");
        }
        this.bias = bias;
    }

    /**
     * Checks that {@code parts} are 2-D with one column count, fills their row counts, returns the column count.
     */
    static int checkShapes(Tensor[] parts, int[] rows) {
        if (parts.length == 0) {
            throw new IllegalArgumentException("a linear layer needs at least one weight matrix");
        }
        int cols = -1;
        for (int i = 0; i < parts.length; i++) {
            Tensor w = parts[i];
            if (w.rank() != 2) {
                throw new IllegalArgumentException("a linear layer needs 2-D weights, " + w + " has rank " + w.rank());
            }
            int c = Math.toIntExact(w.dim(1));
            if (cols >= 0 && c != cols) {
                throw new IllegalArgumentException("stacked weights differ in width: " + parts[0] + " and " + w);
            }
            cols = c;
            rows[i] = Math.toIntExact(w.dim(0));
        }
        return cols;
    }

    @Override
    public int inputs() {
        return inputs;
    }

    @Override
    public int outputs() {
        return outputs;
    }

    @Override
    public void apply(float[] x, float[] out, int batch) {
        checkSizes(this, x, out, batch);
        if (parts.length == 1) {
            backend.matmul(parts[0], x, out, batch, false);
        } else {
            int at = 0;
            for (int i = 0; i < parts.length; i++) {
                int rows = partRows[i];
                float[] part = new float[batch * rows];
                backend.matmul(parts[i], x, part, batch, false);
                for (int b = 0; b < batch; b++) {
                    System.arraycopy(part, b * rows, out, b * outputs + at, rows);
                }
                at += rows;
            }
        }
        for (int b = 0; b < batch; b++) {
            if (bias != null) {
                CpuOps.addBias(out, b * outputs, bias, outputs);
            }
            if (activation == Activation.GELU_ERF) {
                CpuOps.geluErf(out, b * outputs, outputs);
            }
        }
    }

    /** Rejects arrays too small for {@code batch} rows of {@code layer}. */
    static void checkSizes(Linear layer, float[] x, float[] out, int batch) {
        if (batch < 1 || (long) batch * layer.inputs() > x.length || (long) batch * layer.outputs() > out.length) {
            throw new IllegalArgumentException("linear layer " + layer.outputs() + "×" + layer.inputs() + " with batch "
                    + batch + " needs " + (long) batch * layer.inputs() + " inputs and "
                    + (long) batch * layer.outputs() + " outputs, got " + x.length + " and " + out.length);
        }
    }
}
