// The conformance suite over the host backends: every op against the
// reference backend (f32, f64) and against finite differences (f64).
#include <tuple>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/backends/reference/backend.hpp"

using lsk_conformance_backends = std::tuple<lsk::backends::reference, lsk::backends::cpu>;
#include "lsk/testing/conformance.hpp"
