"""More phrasing families, appended after templates.py's so earlier train/dev splits are unchanged.

The train/dev split holds out templates by their index within a tool's list (`data.is_dev_family`), so new
phrasings may only be appended: `templates.py` appends each list here to its own list of the same name (the
list objects `templates.FAMILIES` holds), and an existing template is never reordered, edited or removed.

Slots and arg conventions are those of `templates.py`: args come from slots ({metric}, {win}/{dur}, {lvl}/{lvls},
{lim}, {q}, {rb}, {ch}, ...) and the fixed dict only pins what the wording implies (a metric, or a respond text).
These families add other verbs (investigate, triage, dig into, pull up, chart, bounce, cycle, revert, trim,
spin up), on-call jargon (rca, p99, 5xx, OOM, pods, deploy), Slack-style fragments, questions as well as
commands, and durations in other positions.
"""

from __future__ import annotations

from finetune.slm.phrasing import CAPABILITIES, GREETING, HOW_MANY, OFF_TOPIC, THANKS, WHICH_SERVICE, E, Template

NO_SUCH_SERVICE = "There is no service called {x}."

QUERY_METRICS: list[Template] = [
    ("how's {svc} doing on {metric} {win}?", E), ("chart {svc} {metric} {win}", E),
    ("pull up {svc}'s {metric}", E), ("{dur} of {metric} for {svc}", E), ("{metric} on {svc} for the last {dur}?", E),
    ("what's {svc} {metric} at right now", E), ("{svc} {metric} looking ok?", E),
    ("quick {metric} check on {svc}", E), ("grab {svc} {metric} {win}", E), ("metrics for {svc}: {metric}, {dur}", E),
    ("show me the {metric} graph for {svc} {win}", E), ("did {svc}'s {metric} spike {win}?", E),
    ("what's the 5xx rate on {svc}", {"metric": "error_rate"}), ("p99 on {svc} {win}", {"metric": "latency_p99"}),
    ("how close is {svc} to OOMing?", {"metric": "memory"}), ("{svc} rps {win}", {"metric": "throughput"}),
    ("is {svc} backlogged?", {"metric": "queue_depth"}), ("how's the {svc} p50 {win}", {"metric": "latency_p50"}),
    ("how many pods has {svc} got?", {"metric": "replicas"}), ("what's {svc} cpu sitting at", {"metric": "cpu"}),
]

SEARCH_LOGS: list[Template] = [
    ("pull up {svc} logs {win}", E), ("fetch the last {lim} lines of {svc} logs", E), ("grep {q} {win}", E),
    ("anything about {q} in the logs?", E), ("show {lvls} for {svc} over the last {dur}", E),
    ("{lvl} lines from {svc}, last {dur}", E), ("logs for {svc} matching {q}", E), ("where are we logging {q}?", E),
    ("filter {svc} logs by {lvl}", E), ("kubectl logs {svc} | grep {q}", E), ("search {q} in {svc}, {lvl} only", E),
    ("what {lvls} has {svc} thrown {win}", E), ("{q}? check {svc} logs {win}", E), ("last {dur} of {svc} logs", E),
    ("show me what {svc} logged about {q}", E), ("dig through the logs for {q}", E),
    ("how often does {q} show up in {svc} logs {win}", E), ("top {lim} {lvls} {win}", E),
]

GET_TOPOLOGY: list[Template] = [
    ("who does {svc} talk to?", E), ("what's {svc} wired to", E), ("show {svc}'s callers and callees", E),
    ("if {svc} dies what else breaks?", E), ("deps for {svc}", E), ("{svc} deps?", E), ("pull up the service map", E),
    ("show me how everything's wired together", E), ("what's the call chain for {svc}", E),
    ("which services does {svc} hit", E), ("what does {svc} depend on", E), ("topology pls", E),
    ("render the dependency tree", E), ("fetch topology for {svc}", E), ("what hits {svc}?", E),
    ("give me an overview of how the services connect", E),
]

ROOT_CAUSE: list[Template] = [
    ("investigate the {metric} on {svc}", E), ("look into {svc}, it's been flaky {win}", E), ("triage {svc}", E),
    ("triage the {svc} {metric} alert", E), ("any idea why {svc} is slow?", E), ("what's going on with {svc}?", E),
    ("dig into the {svc} {metric} spike {win}", E), ("rca for {svc}, last {dur}", E),
    ("{svc} p99 regressed, rca pls", {"metric": "latency_p99"}), ("{svc} 5xx spiking, why?", {"metric": "error_rate"}),
    ("{svc} keeps OOMing, why", {"metric": "memory"}), ("why are {svc} pods getting OOMKilled", {"metric": "memory"}),
    ("{svc} is on fire, what's the cause", E), ("what's driving the {metric} on {svc} {win}", E),
    ("diagnose the {metric} issue in {svc}", E), ("can you work out what's wrong with {svc}", E),
    ("why is the {svc} queue growing", {"metric": "queue_depth"}),
    ("why did {svc} traffic fall off a cliff {win}", {"metric": "throughput"}),
    ("{svc} degraded {win} - root cause?", E), ("what's the source of the errors on {svc}", {"metric": "error_rate"}),
]

RECOMMEND_SCALING: list[Template] = [
    ("what should {svc} be scaled to?", E), ("do we need to add capacity to {svc}?", E),
    ("is {svc} big enough for the current load?", E), ("how many replicas do you recommend for {svc}", E),
    ("what's the recommended pod count for {svc}", E), ("can we trim {svc} without hurting it?", E),
    ("sizing recommendation for {svc}", E), ("is it worth scaling up {svc}?", E), ("should {svc} scale down?", E),
    ("check if {svc} needs more replicas", E), ("what does the policy recommend for {svc}?", E),
    ("consult the scaling model for {svc}", E), ("too many pods on {svc}?", E),
    ("{svc} capacity recommendation pls", E), ("how many instances would handle {svc}'s load?", E),
    ("should i add pods to {svc} or is it fine?", E),
]

SCALE_SERVICE: list[Template] = [
    ("add capacity to {svc}: go to {n} replicas", E), ("trim {svc} to {n} pods", E),
    ("spin up {svc} to {n} replicas", E), ("{svc} to {n} replicas pls", E), ("scale {svc} replicas to {n}", E),
    ("set the {svc} deployment to {n} replicas", E), ("cut {svc} down to {n}", E), ("shrink {svc} to {n} pods", E),
    ("grow {svc} to {n} replicas", E), ("bump the replica count on {svc} to {n}", E), ("we need {svc} at {n} pods", E),
    ("could you set {svc} to run {n} pods", E), ("{n} pods on {svc} please", E),
    ("kubectl scale deploy {svc} --replicas {n}", E), ("set desired replicas for {svc} to {n}", E),
    ("move {svc} to {n} replicas", E), ("pin {svc} at {n} replicas", E), ("adjust {svc} replicas to {n}", E),
]

RESTART_SERVICE: list[Template] = [
    ("just bounce {svc}", E), ("cycle {svc}", E), ("restart the {svc} deployment", E),
    ("rolling restart on {svc} pls", E), ("can you kick the {svc} pods", E), ("{svc} needs a bounce", E),
    ("nuke the {svc} pods and let them come back", E), ("delete the {svc} pods so they restart", E),
    ("restart {svc}, it's wedged", E), ("{svc} is OOMing, restart it", E), ("try restarting {svc}", E),
    ("let's restart {svc} and see if that helps", E), ("restart every pod of {svc}", E),
    ("bring {svc} down and back up", E), ("rollout restart deploy/{svc}", E), ("{svc} restart pls", E),
]

ROLLBACK: list[Template] = [
    ("revert {svc} to the previous build", E), ("undo the last deploy of {svc}", E), ("roll {svc} back one version", E),
    ("{svc} deploy broke things, undo it", E), ("back out the latest {svc} release", E), ("rollback deploy/{svc}", E),
    ("put {svc} back on the old version", E), ("take {svc} back to the last known good", E),
    ("redeploy the previous {svc} version", E), ("undo whatever we just shipped to {svc}", E),
    ("can you revert the last {svc} release?", E), ("{svc} needs a rollback", E),
    ("{svc} regressed after the deploy, roll back", E), ("abort the {svc} rollout and go back", E),
    ("flip {svc} back to the prior image", E), ("restore the previous {svc} deployment", E),
]

RUN_RUNBOOK: list[Template] = [
    ("apply the {rb} playbook on {svc}", E), ("remediate {svc} using the {rb} runbook", E),
    ("run through {rb} on {svc}", E), ("fire off the {rb} runbook for {svc}", E),
    ("initiate the {rb} runbook on {svc}", E), ("can we do the {rb} playbook on {svc}?", E),
    ("execute the {rb} remediation steps on {svc}", E), ("{svc} - {rb} runbook pls", E),
    ("/runbook {rb} {svc}", E), ("use the {rb} runbook to fix {svc}", E), ("mitigate {svc} with the {rb} runbook", E),
    ("run the {rb} automation for {svc}", E), ("{svc} needs {rb} remediation, run it", E),
    ("perform the {rb} runbook on {svc}", E), ("run the runbook for {rb} on {svc}", E), ("{rb} on {svc}, go", E),
]

POST_SUMMARY: list[Template] = [
    ("write up a summary for {ch}", E), ("drop the incident recap into {ch}", E), ("ping {ch} with a summary", E),
    ("send the postmortem notes to {ch}", E), ("share what happened with the team", E), ("post an incident update", E),
    ("let the team know in {ch}", E), ("can you summarise the incident to {ch}", E),
    ("wrap up the incident and post it", E), ("post a status update in {ch}", E), ("incident summary -> {ch}", E),
    ("send {ch} the writeup", E), ("give {ch} a rundown of the incident", E), ("post our findings", E),
    ("close out the incident with a summary in {ch}", E), ("share the rca summary in {ch}", E),
    ("update the incident channel", E),
]

RESPOND: list[Template] = [
    ("hiya", {"text": GREETING}), ("morning", {"text": GREETING}), ("hey", {"text": GREETING}),
    ("howdy", {"text": GREETING}), ("hello keel, how are you?", {"text": GREETING}), ("gm", {"text": GREETING}),
    ("good afternoon", {"text": GREETING}), ("anyone there?", {"text": GREETING}),
    ("thx", {"text": THANKS}), ("appreciate it", {"text": THANKS}), ("awesome, thank you", {"text": THANKS}),
    ("cool thanks", {"text": THANKS}), ("much appreciated", {"text": THANKS}),
    ("that's it for now, thanks", {"text": THANKS}), ("got it, thanks", {"text": THANKS}),
    ("what can you help with?", {"text": CAPABILITIES}), ("which actions can you take", {"text": CAPABILITIES}),
    ("what are your commands", {"text": CAPABILITIES}), ("show me what you can do", {"text": CAPABILITIES}),
    ("how does this bot work?", {"text": CAPABILITIES}), ("are you able to restart things?", {"text": CAPABILITIES}),
    ("what kind of stuff can i ask you", {"text": CAPABILITIES}),
    ("what integrations do you have?", {"text": CAPABILITIES}),
    ("what's the stock price of NVDA", {"text": OFF_TOPIC}), ("help me write a cover letter", {"text": OFF_TOPIC}),
    ("set a reminder for 5pm", {"text": OFF_TOPIC}), ("how do i center a div", {"text": OFF_TOPIC}),
    ("how many euros is 50 dollars", {"text": OFF_TOPIC}), ("play some music", {"text": OFF_TOPIC}),
    ("what should i have for lunch", {"text": OFF_TOPIC}), ("explain quantum computing", {"text": OFF_TOPIC}),
    ("bounce it", {"text": WHICH_SERVICE}), ("revert the last deploy", {"text": WHICH_SERVICE}),
    ("can you restart the service?", {"text": WHICH_SERVICE}), ("what's the error rate?", {"text": WHICH_SERVICE}),
    ("add more pods", {"text": WHICH_SERVICE}), ("run the runbook", {"text": WHICH_SERVICE}),
    ("cycle the pods", {"text": WHICH_SERVICE}),
    ("add more pods to {svc}", {"text": HOW_MANY}), ("scale up {svc}", {"text": HOW_MANY}),
    ("bump {svc} replicas", {"text": HOW_MANY}), ("{svc} needs more capacity, scale it", {"text": HOW_MANY}),
    ("scale down {svc} a bit", {"text": HOW_MANY}),
    ("bounce {x}", {"text": NO_SUCH_SERVICE}), ("what's the p99 on {x}?", {"text": NO_SUCH_SERVICE}),
    ("scale {x} to 3 replicas", {"text": NO_SUCH_SERVICE}),
]
