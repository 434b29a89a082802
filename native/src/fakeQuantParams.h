// TensorFlow 2.x's Nudge (fake_quant_ops_functor.h): the per-channel parameters of fake quantization, computed on the
// host. One definition for the CPU and CUDA libraries so they cannot drift apart; every float operation is a
// separate float32 operation (both libraries compile their host code with -ffp-contract=off).
#ifndef KILN_FAKE_QUANT_PARAMS_H
#define KILN_FAKE_QUANT_PARAMS_H

#include <cmath>
#include <cstdint>

namespace kiln {

struct FqParams {
    float mNudgedMin;
    float mNudgedMax;
    float mScale;
    float mInvScale;
    float mQuantZero;
    bool mZero;  // min == max == 0: the output is 0
};

inline FqParams nudge(float min, float max, int32_t numBits, bool narrowRange) {
    FqParams p{};
    if (min == 0.0f && max == 0.0f) {
        p.mZero = true;
        return p;
    }
    const float quantMin = narrowRange ? 1.0f : 0.0f;
    const float quantMax = static_cast<float>((1 << numBits) - 1);
    const float scale = (max - min) / (quantMax - quantMin);
    const float invScale = (quantMax - quantMin) / (max - min);
    const float zeroPointFromMin = quantMin - min / scale;
    float nudgedZp;
    if (zeroPointFromMin < quantMin) {
        nudgedZp = quantMin;
    } else if (zeroPointFromMin > quantMax) {
        nudgedZp = quantMax;
    } else {
        nudgedZp = std::round(zeroPointFromMin);
    }
    p.mNudgedMin = (quantMin - nudgedZp) * scale;
    p.mNudgedMax = (quantMax - nudgedZp) * scale;
    p.mScale = scale;
    p.mInvScale = invScale;
    p.mQuantZero = std::floor(-p.mNudgedMin * invScale + 0.5f);
    return p;
}

}  // namespace kiln

#endif  // KILN_FAKE_QUANT_PARAMS_H
