// The Conan package's smoke test: one op through the cpu backend.
#include <cstdio>

#include <lsk/recipe.hpp>

int main() {
  using lsk::shape;
  lsk::backends::cpu be;
  lsk::tensor<float> a(shape{2, 3}, 1.0f), b(shape{3, 2}, 2.0f), c(shape{2, 2});
  lsk::matmul<lsk::backends::cpu, float>(be, a, b, c.view());
  std::printf("lsk %d.%d.%d: matmul c(1, 1) = %g (expected 6)\n", lsk::version.major, lsk::version.minor,
              lsk::version.patch, static_cast<double>(c(1, 1)));
  return c(1, 1) == 6.0f ? 0 : 1;
}
