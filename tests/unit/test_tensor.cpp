#include <catch2/catch.hpp>

#include "lsk/core.hpp"

TEST_CASE("shape and contiguous strides", "[tensor]") {
  const lsk::shape s{2, 3, 4};
  CHECK(s.rank() == 3);
  CHECK(s.numel() == 24);
  CHECK(s.rows() == 6);
  CHECK(lsk::contiguous_strides(s) == lsk::shape{12, 4, 1});
  CHECK(lsk::shape{}.numel() == 1);
  CHECK_THROWS_AS((lsk::shape{1, 2, 3, 4, 5, 6, 7}), lsk::shape_error);
  CHECK_THROWS_AS((lsk::shape{2, -1}), lsk::shape_error);
}

TEST_CASE("tensor views index, transpose, slice and reshape", "[tensor]") {
  lsk::tensor<float> t(lsk::shape{2, 3});
  for (int i = 0; i < 6; ++i) t.values()[static_cast<std::size_t>(i)] = static_cast<float>(i);
  auto v = t.view();
  CHECK(v(1, 2) == 5.0f);
  auto tr = v.transpose();
  CHECK(tr.extents() == lsk::shape{3, 2});
  CHECK(tr(2, 1) == 5.0f);
  CHECK_FALSE(tr.is_contiguous());
  CHECK_THROWS_AS(tr.span(), lsk::shape_error);
  CHECK_THROWS_AS(tr.reshape({6}), lsk::shape_error);
  auto row = v.slice(1, 2);
  CHECK(row(0, 0) == 3.0f);
  CHECK_THROWS_AS(v.slice(1, 3), lsk::shape_error);
  CHECK(v.reshape({3, 2})(2, 0) == 4.0f);
  CHECK_THROWS_AS(v.reshape({4}), lsk::shape_error);
  lsk::tensor_view<const float> c = v;  // mutable -> const view
  CHECK(c(0, 1) == 1.0f);
}

TEST_CASE("copy and convert follow strides and convert types", "[tensor]") {
  lsk::tensor<float> t(lsk::shape{2, 3}, std::vector<float>{0, 1, 2, 3, 4, 5});
  auto d = lsk::convert<double, float>(t.view().transpose());
  CHECK(d.extents() == lsk::shape{3, 2});
  CHECK(d(2, 1) == 5.0);
  auto b = lsk::convert<lsk::bf16, float>(t.view());
  CHECK(static_cast<float>(b(1, 1)) == 4.0f);
  lsk::tensor<float> wrong(lsk::shape{4});
  CHECK_THROWS_AS((lsk::copy<float, float>(t.view(), wrong.view())), lsk::shape_error);
  CHECK_THROWS_AS((lsk::tensor<float>(lsk::shape{2, 2}, std::vector<float>{1, 2, 3})), lsk::shape_error);
}

TEST_CASE("dtype names and sizes", "[tensor]") {
  CHECK(lsk::name(lsk::dtype_of<float>) == "f32");
  CHECK(lsk::name(lsk::dtype_of<const double>) == "f64");
  CHECK(lsk::size_of(lsk::dtype_of<lsk::bf16>) == 2);
  CHECK(lsk::tensor<lsk::bf16>::type() == lsk::dtype::bf16);
}

TEST_CASE("errors are typed and say what went wrong", "[error]") {
  try {
    lsk::raise<lsk::config_error>("key '", "rope_theta", "' must be positive, got ", -1);
    FAIL("no exception");
  } catch (const lsk::error& e) {
    CHECK(std::string(e.what()) == "key 'rope_theta' must be positive, got -1");
  }
}
