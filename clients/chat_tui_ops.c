/* chat_tui_ops.c: message operations in chat's full-screen model. */
#include "chat_tui_int.h"
