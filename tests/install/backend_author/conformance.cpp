// Runs lsk's conformance suite (every op against the reference backend, and
// gradients against finite differences) on acme::backend.
#include <tuple>

#include "acme_backend.hpp"

using lsk_conformance_backends = std::tuple<acme::backend>;
#include <lsk/testing/conformance.hpp>
