/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the SCIM harnesses check on everything the parser hands back (scim-parse.h promises
 * typed, bounded, control-character-free values). */

#include "scim-parse.h"

void fuzz_check_scim_user(const ProvScimUser *u);
void fuzz_check_scim_batch(const ProvScimBatch *b);
/* Parse options that vary with a byte of the input, so that each attribute path form is fuzzed. */
void fuzz_scim_options(uint8_t selector, ProvScimParseOptions *ret);
