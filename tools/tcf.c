/*
 * tcf.c — the command-line program: argument parsing and calls into the
 * library, nothing more.
 */
#include "tcf.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: tcf COMMAND [options]\n"
            "\n"
            "commands:\n"
            "  tokenize   print token ids for each input line\n"
            "  embed      print an embedding (JSON array) for each input line\n"
            "\n"
            "Run 'tcf COMMAND --help' for the options of a command.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    fprintf(stderr, "tcf: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
