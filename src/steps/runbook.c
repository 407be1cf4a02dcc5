/* runbook.c — placeholder */
#include "engrave/steps.h"
#include "engrave/err.h"
int step_runbook_run(struct step_ctx *c, struct err *e)
{
	(void)c;
	return err_set(e, ERR_UNSUPPORTED, "runbook: not yet");
}
