# Writes OUT: a C file defining `const char seed_workflow[]` from the file IN (the seed's ASL).
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT} "/* Generated from fixtures/workflows/seed.asl.json; do not edit. */\n#include <stddef.h>\nconst char seed_workflow[] = {${bytes} 0x00};\nconst size_t seed_workflow_len = sizeof seed_workflow - 1;\n")
