// Host build of the kernels' block decoders (src/main/cuda/dequant.cuh), for DecodeLayoutTest: decodes
// every quad of every row exactly as mat_vec and mat_mul in kernels.cu do, so the GGUF layouts the GPU reads are
// checked against llm-quant's Java formats on machines without a GPU.
//
// Input file: int32 type, int32 rows, int32 cols, int64 rowBytes (little-endian), then the rows.
// Output file: rows * cols float32.
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "dequant.cuh"

int main(int argc, char **argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: decode_check IN OUT\n");
        return 2;
    }
    FILE *in = std::fopen(argv[1], "rb");
    if (!in) {
        std::perror(argv[1]);
        return 1;
    }
    int32_t type, rows, cols;
    int64_t rowBytes;
    if (std::fread(&type, 4, 1, in) != 1 || std::fread(&rows, 4, 1, in) != 1 || std::fread(&cols, 4, 1, in) != 1
        || std::fread(&rowBytes, 8, 1, in) != 1) {
        std::fprintf(stderr, "short header\n");
        return 1;
    }
    std::vector<uint8_t> data((size_t)rows * rowBytes);
    if (std::fread(data.data(), 1, data.size(), in) != data.size()) {
        std::fprintf(stderr, "short data\n");
        return 1;
    }
    std::fclose(in);
    std::vector<float> out((size_t)rows * cols);
    float w[ISTHMUS_QUAD];
    for (int r = 0; r < rows; r++) {
        const uint8_t *row = data.data() + (size_t)r * rowBytes;
        for (int it = 0; it < isthmus_items(cols); it++) {
            for (int e = 0; e < ISTHMUS_ITEM; e += ISTHMUS_QUAD) {
                if (!isthmus_decode_quad(type, row, it, e, cols, w)) {
                    std::fprintf(stderr, "unknown type %d\n", type);
                    return 1;
                }
                for (int i = 0; i < ISTHMUS_QUAD; i++) {
                    int col = it * ISTHMUS_ITEM + e + i;
                    if (col < cols) {
                        out[(size_t)r * cols + col] = w[i];
                    }
                }
            }
        }
    }
    FILE *o = std::fopen(argv[2], "wb");
    if (!o || std::fwrite(out.data(), 4, out.size(), o) != out.size()) {
        std::perror(argv[2]);
        return 1;
    }
    std::fclose(o);
    return 0;
}
