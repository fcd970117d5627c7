// The conformance suite through lsk::testing::staged (staging.hpp), the path
// device-memory backends take, checked on the host: pretend_device keeps its
// "device" memory in separate heap blocks, refuses any pointer outside them,
// and runs the cpu backend there. Passing means every op's arguments were
// staged (in-place views once), outputs came back, poison and accumulated
// gradients went in, and nothing leaked.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <tuple>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/testing/pretend_device.hpp"
#include "lsk/testing/staging.hpp"

namespace {

using pretend_device = lsk::testing::pretend_device<lsk::backends::cpu>;

static_assert(lsk::Backend<pretend_device>);
static_assert(lsk::DeviceMemory<pretend_device>);

}  // namespace

using lsk_conformance_backends = std::tuple<pretend_device>;
#include "lsk/testing/conformance.hpp"

TEST_CASE("staged ops free every device block they allocate", "[conformance][staging]") {
  const int before = pretend_device::live_blocks;
  pretend_device be;
  lsk::testing::require_report(lsk::testing::conformance_check<lsk::testing::softmax_case, float>(be));
  lsk::testing::require_report(lsk::testing::gradient_check<lsk::testing::rope_case>(be));
  CHECK(pretend_device::live_blocks == before);
}
