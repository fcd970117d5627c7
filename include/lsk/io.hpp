// lsk/io.hpp: file formats: atomic file replacement, safetensors, llama2.c checkpoints.
#pragma once

#include "lsk/io/atomic_write.hpp"
#include "lsk/io/llama2c.hpp"
#include "lsk/io/safetensors.hpp"
