// safetensors: round trips, a fixture written by the reference Python library,
// and one hand-built buffer per kind of malformation.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "io_test_support.hpp"
#include "lsk/io/safetensors.hpp"

namespace st = lsk::io::safetensors;
using lsk_test::contains;
using lsk_test::message_of;

namespace {

// An 8-byte little-endian length (the header's, unless overridden), the
// header text and `data` bytes.
std::vector<std::byte> make_file(const std::string& header, std::size_t data_bytes,
                                 std::optional<std::uint64_t> length = std::nullopt) {
  const std::uint64_t n = length.value_or(header.size());
  std::vector<std::byte> out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>((n >> (8 * i)) & 0xFF));
  for (char c : header) out.push_back(static_cast<std::byte>(c));
  for (std::size_t i = 0; i < data_bytes; ++i) out.push_back(static_cast<std::byte>(i + 1));
  return out;
}

std::string format_error_of(const std::string& header, std::size_t data_bytes,
                            std::optional<std::uint64_t> length = std::nullopt) {
  return message_of<lsk::format_error>(
      [&] { (void)st::reader::from_bytes(make_file(header, data_bytes, length), "bad.st"); });
}

lsk::tensor<float> iota(lsk::shape s, float start, float step) {
  lsk::tensor<float> t(s);
  for (lsk::index_t i = 0; i < t.numel(); ++i) t.data()[i] = start + step * static_cast<float>(i);
  return t;
}

}  // namespace

TEST_CASE("safetensors: f32 and bf16 round trip through a file, with metadata", "[io][safetensors]") {
  lsk_test::scratch_dir dir;
  const auto a = iota({2, 3}, -1.5f, 0.3f);
  const auto b = iota({4}, 0.1f, 1.7f);
  const auto c = iota({2, 1, 3}, 7.0f, -0.55f);
  lsk::tensor<lsk::bf16> d(lsk::shape{3});
  d.data()[0] = lsk::bf16(1.5f);
  d.data()[1] = lsk::bf16(-0.0078125f);
  d.data()[2] = lsk::bf16::from_bits(0x4049);  // 3.140625

  st::writer w;
  w.add("a", a.view());
  w.add("model.embed_tokens.weight", b.view(), st::element_type::bf16);
  w.add("c", c.view());
  w.add("d", d.view());
  w.set_metadata("format", "pt");
  w.set_metadata("step", "1200");
  const auto path = dir / "model.safetensors";
  w.write(path);

  const auto r = st::reader::open(path);
  CHECK(r.data_offset() % 8 == 0);
  CHECK(r.file_size() == std::filesystem::file_size(path));
  REQUIRE(r.tensors().size() == 4);
  CHECK(r.metadata().at("format") == "pt");
  CHECK(r.metadata().at("step") == "1200");
  CHECK(r.info("a").type == st::element_type::f32);
  CHECK(r.info("model.embed_tokens.weight").type == st::element_type::bf16);
  CHECK(r.info("c").shape() == lsk::shape{2, 1, 3});

  const auto a2 = r.read<float>("a");
  CHECK(a2.extents() == a.extents());
  CHECK(a2.values() == a.values());  // exact
  const auto c2 = r.read_f32("c");
  CHECK(c2.values() == c.values());

  const auto b2 = r.read<float>("model.embed_tokens.weight");
  for (std::size_t i = 0; i < 4; ++i) CHECK(b2.values()[i] == static_cast<float>(lsk::bf16(b.values()[i])));
  const auto b3 = r.read<lsk::bf16>("model.embed_tokens.weight");
  for (std::size_t i = 0; i < 4; ++i) CHECK(b3.values()[i] == lsk::bf16(b.values()[i]));

  const auto d2 = r.read<lsk::bf16>("d");
  CHECK(d2.values() == d.values());
  const auto raw = r.raw("d");
  REQUIRE(raw.size() == 6);
  CHECK(raw[4] == std::byte{0x49});  // little-endian: low byte first
  CHECK(raw[5] == std::byte{0x40});

  // The same bytes through memory.
  const auto bytes = w.serialize();
  CHECK(bytes == lsk_test::read_bytes(path));
  const auto m = st::reader::from_bytes(bytes);
  CHECK(m.read<double>("c").values()[4] == static_cast<double>(c.values()[4]));
}

TEST_CASE("safetensors: a strided view is written in row-major order", "[io][safetensors]") {
  const auto a = iota({2, 3}, 1.0f, 1.0f);  // [[1 2 3] [4 5 6]]
  const lsk::tensor_view<const float> transposed(a.data(), lsk::shape{3, 2}, lsk::shape{1, 3});
  st::writer w;
  w.add("t", transposed);
  const auto r = st::reader::from_bytes(w.serialize());
  CHECK(r.read<float>("t").values() == std::vector<float>{1, 4, 2, 5, 3, 6});
}

TEST_CASE("safetensors: save and load_f32", "[io][safetensors]") {
  lsk_test::scratch_dir dir;
  std::map<std::string, lsk::tensor<float>, std::less<>> tensors;
  tensors.emplace("x", iota({3, 2}, 0.25f, 0.5f));
  tensors.emplace("y", iota({5}, -2.0f, 0.125f));
  st::save(dir / "s.safetensors", tensors, {{"k", "v"}});
  const auto back = st::load_f32(dir / "s.safetensors");
  REQUIRE(back.size() == 2);
  CHECK(back.at("x").values() == tensors.at("x").values());
  CHECK(back.at("y").extents() == lsk::shape{5});
  CHECK(st::reader::open(dir / "s.safetensors").metadata().at("k") == "v");

  st::save(dir / "b.safetensors", tensors, {}, st::element_type::bf16);
  const auto r = st::reader::open(dir / "b.safetensors");
  CHECK(r.metadata().empty());
  CHECK(r.info("x").type == st::element_type::bf16);
  CHECK(r.info("x").byte_size() == 12);
}

TEST_CASE("safetensors: writing replaces the old file atomically", "[io][safetensors]") {
  lsk_test::scratch_dir dir;
  const auto path = dir / "w.safetensors";
  st::writer first;
  first.add("a", iota({2}, 1.0f, 1.0f).view());
  first.write(path);
  st::writer second;
  second.add("b", iota({3}, 5.0f, 1.0f).view());
  second.write(path);
  const auto r = st::reader::open(path);
  CHECK_FALSE(r.contains("a"));
  CHECK(r.read<float>("b").values() == std::vector<float>{5, 6, 7});
  // No temporary files left behind.
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator()) == 1);

  const std::string msg = message_of<lsk::io_error>([&] { second.write(dir / "no-such-directory" / "x.safetensors"); });
  CHECK(contains(msg, "no-such-directory"));
}

TEST_CASE("safetensors: writer rejects duplicate and reserved names", "[io][safetensors]") {
  st::writer w;
  w.add("a", iota({1}, 1.0f, 0.0f).view());
  CHECK(contains(message_of<lsk::format_error>([&] { w.add("a", iota({1}, 1.0f, 0.0f).view()); }),
                 "duplicate tensor name 'a'"));
  CHECK_THROWS_AS(w.add("__metadata__", iota({1}, 1.0f, 0.0f).view()), lsk::format_error);
  CHECK_THROWS_AS(w.add("f16", iota({1}, 1.0f, 0.0f).view(), st::element_type::f16), lsk::format_error);
}

TEST_CASE("safetensors: the fixture written by the reference Python library", "[io][safetensors][golden]") {
  const std::filesystem::path golden = std::filesystem::path(LSK_GOLDEN_DIR) / "safetensors";
  std::ifstream json_in(golden / "fixture.json");
  REQUIRE(json_in);
  const auto expected = nlohmann::json::parse(json_in);
  const auto r = st::reader::open(golden / expected.at("file").get<std::string>());

  CHECK(r.metadata().size() == expected.at("metadata").size());
  for (const auto& [k, v] : expected.at("metadata").items()) CHECK(r.metadata().at(k) == v.get<std::string>());
  REQUIRE(r.tensors().size() == expected.at("tensors").size());

  for (const auto& [name, e] : expected.at("tensors").items()) {
    INFO("tensor " << name);
    const st::tensor_info& info = r.info(name);
    CHECK(st::file_name(info.type) == e.at("dtype").get<std::string>());
    CHECK(info.extents == e.at("shape").get<std::vector<std::int64_t>>());
    const auto& values = e.at("values");
    REQUIRE(info.numel() == values.size());
    if (st::is_integral(info.type)) continue;
    const auto as_double = r.read<double>(name);
    const auto as_float = r.read<float>(name);
    for (std::size_t i = 0; i < values.size(); ++i) {
      const double want = values[i].get<double>();
      CHECK(as_double.values()[i] == want);
      CHECK(as_float.values()[i] == static_cast<float>(want));
      CHECK(want != 0.0);  // a reader returning zeros must fail
    }
  }

  CHECK(r.read<std::int32_t>("i32").values() == std::vector<std::int32_t>{-7, 123456});
  const std::string msg = message_of<lsk::index_error>([&] { (void)r.read<std::int32_t>("i64"); });
  CHECK(contains(msg, "element 2"));
  CHECK(contains(msg, "1099511627776"));

  const auto bits = expected.at("tensors").at("bf16").at("bits").get<std::vector<std::uint16_t>>();
  const auto bf = r.read<lsk::bf16>("bf16");
  for (std::size_t i = 0; i < bits.size(); ++i) CHECK(bf.values()[i].bits == bits[i]);
  // The reference bf16 bits agree with lsk's own float -> bf16 rounding (three ties to even).
  const float sources[] = {1.0f, -3.140625f, 1.0e-3f, 65536.0f + 256.0f, 1.00390625f, -1.01171875f};
  for (std::size_t i = 0; i < bits.size(); ++i) CHECK(lsk::bf16::round_from_float(sources[i]) == bits[i]);

  CHECK(r.read<float>("empty").extents() == lsk::shape{0, 4});
  CHECK_THROWS_AS(r.read<float>("i32"), lsk::shape_error);
  CHECK_THROWS_AS(r.read<std::int32_t>("f32"), lsk::shape_error);
  CHECK_THROWS_AS(r.info("missing"), lsk::index_error);
}

TEST_CASE("safetensors: F16 converts exactly, subnormals and infinities included", "[io][safetensors]") {
  const std::string h = R"({"h":{"dtype":"F16","shape":[7],"data_offsets":[0,14]}})";
  auto bytes = make_file(h, 0);
  const std::uint16_t halves[] = {0x3C00, 0xC100, 0x7BFF, 0x0001, 0x03FF, 0x7C00, 0x3555};
  for (std::uint16_t v : halves) {
    bytes.push_back(static_cast<std::byte>(v & 0xFF));
    bytes.push_back(static_cast<std::byte>(v >> 8));
  }
  const auto t = st::reader::from_bytes(bytes).read<float>("h").values();
  CHECK(t[0] == 1.0f);
  CHECK(t[1] == -2.5f);
  CHECK(t[2] == 65504.0f);
  CHECK(t[3] == std::ldexp(1.0f, -24));
  CHECK(t[4] == std::ldexp(1023.0f, -24));
  CHECK(t[5] == std::numeric_limits<float>::infinity());
  CHECK(t[6] == 0.333251953125f);
}

TEST_CASE("safetensors: malformed files are format errors that say where", "[io][safetensors]") {
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  REQUIRE_NOTHROW(st::reader::from_bytes(make_file(ok, 8)));

  SECTION("shorter than the length field") {
    const auto msg =
        message_of<lsk::format_error>([] { (void)st::reader::from_bytes(std::vector<std::byte>(5), "tiny.st"); });
    CHECK(contains(msg, "tiny.st"));
    CHECK(contains(msg, "5 bytes"));
  }
  SECTION("header length larger than the file") {
    const auto msg = format_error_of(ok, 8, 1000);
    CHECK(contains(msg, "bad.st"));
    CHECK(contains(msg, "header length 1000"));
    CHECK(contains(msg, "byte offset 0"));
  }
  SECTION("bad JSON") {
    const auto msg = format_error_of(R"({"a":{"dtype":"F32",,}})", 0);
    CHECK(contains(msg, "bad JSON"));
    CHECK(contains(msg, "byte offset 28"));  // 8 + index 20, the second comma
  }
  SECTION("header is not an object") { CHECK(contains(format_error_of("[1,2]", 0), "not a JSON object")); }
  SECTION("unknown dtype") {
    const auto msg = format_error_of(R"({"w":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", 8);
    CHECK(contains(msg, "tensor 'w'"));
    CHECK(contains(msg, "unknown dtype 'F33'"));
  }
  SECTION("data_offsets past the end: a truncated file") {
    const auto msg = format_error_of(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 12);
    CHECK(contains(msg, "tensor 'w'"));
    CHECK(contains(msg, "truncated"));
  }
  SECTION("data_offsets that end before they begin") {
    CHECK(contains(format_error_of(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", 8), "end before"));
  }
  SECTION("overlapping tensors") {
    const auto msg = format_error_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                     R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                     12);
    CHECK(contains(msg, "overlaps"));
    CHECK(contains(msg, "'a'"));
    CHECK(contains(msg, "'b'"));
  }
  SECTION("a gap between tensors") {
    const auto msg = format_error_of(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                     R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                                     12);
    CHECK(contains(msg, "belong to no tensor"));
  }
  SECTION("bytes after the last tensor") { CHECK(contains(format_error_of(ok, 12), "4 bytes after the last tensor")); }
  SECTION("data_offsets that do not match shape * dtype size") {
    const auto msg = format_error_of(R"({"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,8]}})", 8);
    CHECK(contains(msg, "tensor 'w'"));
    CHECK(contains(msg, "needs 12 bytes"));
    CHECK(contains(msg, "hold 8"));
  }
  SECTION("duplicate tensor names") {
    const auto msg = format_error_of(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                     R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                     8);
    CHECK(contains(msg, "duplicate key 'a'"));
    CHECK(contains(msg, "top-level"));
  }
  SECTION("a duplicate key inside an entry") {
    const auto msg = format_error_of(R"({"a":{"dtype":"F32","dtype":"F64","shape":[1],"data_offsets":[0,4]}})", 4);
    CHECK(contains(msg, "duplicate key 'dtype'"));
    CHECK(contains(msg, "'a'"));
  }
  SECTION("negative or fractional extents") {
    CHECK(contains(format_error_of(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", 0), "non-negative"));
    CHECK(contains(format_error_of(R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4), "non-negative"));
  }
  SECTION("missing fields") {
    CHECK(contains(format_error_of(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", 4), "\"dtype\""));
    CHECK(contains(format_error_of(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4), "\"shape\""));
    CHECK(contains(format_error_of(R"({"w":{"dtype":"F32","shape":[1]}})", 4), "data_offsets"));
    CHECK(contains(format_error_of(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4), "data_offsets"));
  }
  SECTION("metadata that is not string to string") {
    CHECK(contains(format_error_of(R"({"__metadata__":{"step":12}})", 0), "'step'"));
    CHECK(contains(format_error_of(R"({"__metadata__":[1]})", 0), "__metadata__"));
  }
}

TEST_CASE("safetensors: a file truncated after opening is reported when read", "[io][safetensors]") {
  lsk_test::scratch_dir dir;
  const auto path = dir / "t.safetensors";
  st::writer w;
  w.add("a", iota({64}, 1.0f, 1.0f).view());
  w.write(path);
  const auto r = st::reader::open(path);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 10);
  const auto msg = message_of<lsk::format_error>([&] { (void)r.read<float>("a"); });
  CHECK(contains(msg, "truncated"));
  CHECK(contains(msg, path.string()));
  // Opened again, the header no longer matches the file.
  CHECK(contains(message_of<lsk::format_error>([&] { (void)st::reader::open(path); }), "truncated"));

  CHECK(contains(message_of<lsk::io_error>([&] { (void)st::reader::open(dir / "missing.safetensors"); }),
                 "missing.safetensors"));
}
