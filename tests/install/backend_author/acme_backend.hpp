// acme/backend.hpp stand-in: a backend written outside lsk, under its own name.
// It reuses lsk's reference arithmetic; a real author would implement the ops.
#pragma once

#include <string_view>

#include <lsk/backends/reference/backend.hpp>
#include <lsk/concepts/backend.hpp>

namespace acme {

class backend : public lsk::backends::reference {
 public:
  static constexpr std::string_view name = "acme";
  static constexpr lsk::memory_space memory = lsk::memory_space::host;
};

}  // namespace acme

static_assert(lsk::Backend<acme::backend>);
