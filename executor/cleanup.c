/* SPDX-License-Identifier: MIT */
#include "stages.h"

int main(int argc, char **argv)
{
        return bx_stage_main("cleanup", stage_cleanup, argc, argv);
}
