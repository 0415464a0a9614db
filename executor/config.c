/* SPDX-License-Identifier: MIT */
#include "stages.h"

int main(int argc, char **argv)
{
        return bx_stage_main("config", stage_config, argc, argv);
}
