# Turns a file into a C array, so static assets are compiled into the binary
# (no install path to get wrong, nothing to fetch): cmake -DIN= -DOUT= -DNAME= -P embed.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE "${OUT}" "/* Generated from ${IN} by cmake/embed.cmake: do not edit. */\n#include <stddef.h>\n"
     "const unsigned char ${NAME}[] = {${body}0};\nconst size_t ${NAME}_len = ${len};\n")
