// Which Highway targets the kernels are compiled for. Every kernel translation unit includes this first,
// before any Highway header.
//   - Runtime dispatch (default): SSE4, AVX2, AVX3 (AVX-512) and Highway's baseline fallback (EMU128).
//     SSSE3-only CPUs (Core 2 before Penryn, early Atom) take the fallback; AVX3_DL adds nothing these
//     kernels use over AVX3. Leaving both out cuts the kernels' compile time.
//   - TYPENET_STATIC_DISPATCH (CMake option): the compiler's -march target only, called directly (with
//     HWY_COMPILE_ONLY_STATIC, Highway's HWY_EXPORT/HWY_DYNAMIC_DISPATCH reduce to a direct call).
#pragma once

#if defined(TYPENET_STATIC_DISPATCH) && !defined(HWY_COMPILE_ONLY_STATIC)
#define HWY_COMPILE_ONLY_STATIC 1
#endif
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SSSE3 | HWY_AVX3_DL)
#endif
