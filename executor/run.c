/* SPDX-License-Identifier: MIT */
#include "stages.h"

int main(int argc, char **argv)
{
        return bx_stage_main("run", stage_run, argc, argv);
}
