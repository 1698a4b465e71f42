/* cxr-run pacs (pacs.c): argv are the arguments after "pacs". */
#pragma once

int cxr_run_pacs (int argc, char **argv);
