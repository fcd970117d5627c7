// lsk/position.hpp: rotary position encodings with Hugging Face parity: every
// rope_type, cos/sin tables, config.json reading and writing, one-call edits.
#pragma once

#include "lsk/concepts/position_encoding.hpp"
#include "lsk/position/rope.hpp"
#include "lsk/position/rope_config.hpp"
#include "lsk/position/rope_edit.hpp"
#include "lsk/position/rope_json.hpp"
#include "lsk/position/rope_table.hpp"
