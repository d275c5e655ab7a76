/* fixtures.c -- the test tables' reader (see fixtures.h). */
#include "fixtures.h"

#include <check.h>
#include <string.h>

FILE *fixture_open(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "tests/fixtures/%s", name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s: run from the repository root", path);
    return f;
}

int fixture_row(FILE *f, char *line, size_t len, const char **key, const char **value)
{
    while (fgets(line, (int)len, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *tab = strchr(line, '\t');
        if (line[0] == '#' || !tab)
            continue;
        *tab = '\0';
        *key = line;
        *value = tab + 1;
        return 1;
    }
    return 0;
}
