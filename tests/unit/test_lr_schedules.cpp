#include <catch2/catch.hpp>

#include "lsk/schedule/lr_schedules.hpp"

using lsk::schedule::lr_schedule;
using lsk::schedule::lr_shape;

TEST_CASE("schedules at their boundaries", "[schedule]") {
  const lr_schedule c(lr_shape::constant, 1.0, 10, 4);
  CHECK(c.lr(0) == Approx(0.25));
  CHECK(c.lr(3) == Approx(1.0));
  CHECK(c.lr(9) == Approx(1.0));
  CHECK(c.lr(1000) == Approx(1.0));

  const lr_schedule cos(lr_shape::cosine, 1.0, 12, 2, 0.1);
  CHECK(cos.lr(0) == Approx(0.5));
  CHECK(cos.lr(2) == Approx(1.0));   // first post-warmup step: peak
  CHECK(cos.lr(7) == Approx(0.55));  // half way: (peak + min) / 2
  CHECK(cos.lr(11) == Approx(0.1 + 0.45 * (1 + std::cos(0.9 * 3.141592653589793))));
  CHECK(cos.lr(11) > 0.1);

  const lr_schedule lin(lr_shape::linear, 2.0, 5, 0, 0.0);
  CHECK(lin.lr(0) == Approx(2.0));
  CHECK(lin.lr(2) == Approx(1.2));
  CHECK(lin.lr(4) == Approx(0.4));

  const lr_schedule wsd(lr_shape::warmup_stable_decay, 1.0, 20, 2, 0.0, 5);
  CHECK(wsd.lr(1) == Approx(1.0));
  CHECK(wsd.lr(14) == Approx(1.0));
  CHECK(wsd.lr(15) == Approx(1.0));
  CHECK(wsd.lr(17) == Approx(0.6));
  CHECK(wsd.lr(19) == Approx(0.2));

  const lr_schedule one(lr_shape::cosine, 3.0, 1);
  CHECK(one.lr(0) == Approx(3.0));  // a one-step stage still moves
}

TEST_CASE("schedules reject bad parameters", "[schedule][errors]") {
  CHECK_THROWS_AS(lr_schedule(lr_shape::constant, -1.0, 10), lsk::config_error);
  CHECK_THROWS_AS(lr_schedule(lr_shape::constant, 1.0, 0), lsk::config_error);
  CHECK_THROWS_AS(lr_schedule(lr_shape::cosine, 1.0, 10, 11), lsk::config_error);
  CHECK_THROWS_AS(lr_schedule(lr_shape::cosine, 1.0, 10, 0, 2.0), lsk::config_error);
  CHECK_THROWS_AS(lr_schedule(lr_shape::warmup_stable_decay, 1.0, 10, 5, 0.0, 6), lsk::config_error);
  CHECK_THROWS_WITH(lsk::schedule::lr_shape_from_name("step", "plan.stages[1].lr.schedule"),
                    Catch::Contains("plan.stages[1].lr.schedule: unknown schedule 'step'"));
}
