/* SPDX-License-Identifier: MIT */
#include "stages.h"

int main(int argc, char **argv)
{
        return bx_stage_main("prepare", stage_prepare, argc, argv);
}
