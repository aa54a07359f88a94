/* struct cval trees printed as libconfig 1.5 text that reads back to the
 * same tree (pure: writes only to the FILE it is given). */
#pragma once

#include <stdio.h>

#include "keys.h"

/* Print the members of group g, one "name = value;" a line, each line
 * starting with indent (nested groups indent one tab more). Returns 0, or
 * -EINVAL when the tree cannot be written so that libconfig reads it back
 * the same (a member without a valid name, an array of mixed or non-scalar
 * types, a float that is not finite); nothing useful is printed then. */
int cval_print_members(FILE *f, const char *indent, const struct cval *g);

/* One value: a scalar, "[ ... ]", "( ... )" or "{ ... }" (a group's members
 * on their own lines, indented one tab more than indent, then indent "}").
 * Returns 0 or -EINVAL as above. */
int cval_print_value(FILE *f, const char *indent, const struct cval *v);

/* libconfig's setting names: a letter or '*', then letters, digits, '-',
 * '_' and '*'. */
bool cval_name_valid(const char *name);
