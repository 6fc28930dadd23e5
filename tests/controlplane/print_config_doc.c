/* Prints the Markdown reference of every config key (used to refresh
 * docs/configuration.md; test_config_docs checks the file covers every key). */
#include <stdio.h>

#include "controlplane/config.h"

int main(void)
{
    sl_config_write_markdown(stdout);
    return 0;
}
