"""Phrasing templates per intent: each family is one way of asking; slots are filled from `vocab`.

A template is (text, fixed args). Slots: {svc} service, {metric}, {win} window phrase, {dur} bare
duration, {n} replica count, {q} log query, {lvl} level adjective, {lvls} level plural, {lim} limit,
{rb} runbook, {ch} channel, {x} an unknown service name. Fixed args are implied by the wording
("why is {svc} erroring" -> metric=error_rate). Train/dev splits hold out whole templates.
"""

from __future__ import annotations

from finetune.slm import templates_more
from finetune.slm.phrasing import CAPABILITIES, GREETING, HOW_MANY, OFF_TOPIC, THANKS, WHICH_SERVICE, E, Template

QUERY_METRICS: list[Template] = [
    ("{metric} for {svc}", E), ("{svc} {metric}", E), ("show {metric} of {svc}", E),
    ("what's the {metric} on {svc}?", E), ("check {svc} {metric} {win}", E), ("graph {metric} for {svc} {win}", E),
    ("{metric} {svc} {win}", E), ("can you pull {svc}'s {metric} {win}?", E), ("plot the {metric} of {svc}", E),
    ("what does {metric} look like for {svc} {win}", E), ("is {svc} {metric} high right now?", E),
    ("query {metric} {svc}", E), ("get me {metric} on {svc}", E), ("need {svc} {metric} numbers {win}", E),
    ("how's {svc} looking on {metric}?", E), ("{svc} {metric} {win}?", E), ("show me {svc} {metric}", E),
    ("what is {svc}'s current {metric}", E), ("{metric} of {svc} {win} please", E),
    ("give me the {metric} numbers for {svc}", E), ("i'd like to see {metric} for {svc} {win}", E),
    ("metrics: {svc} / {metric} / {dur}", E), ("look at {metric} on {svc}", E), ("fetch {svc} {metric}", E),
    ("has {svc} {metric} changed {win}?", E), ("what was the {metric} of {svc} {win}", E),
    ("{svc}: {metric}?", E), ("trend of {metric} for {svc} {win}", E), ("display {metric} for the {svc}", E),
    ("how much memory is {svc} using", {"metric": "memory"}), ("how much cpu is {svc} burning?", {"metric": "cpu"}),
    ("is {svc} slow?", {"metric": "latency_p99"}), ("is {svc} slow {win}?", {"metric": "latency_p99"}),
    ("how many replicas does {svc} have", {"metric": "replicas"}),
    ("how many pods is {svc} running right now?", {"metric": "replicas"}),
    ("is {svc} throwing errors?", {"metric": "error_rate"}), ("how many requests is {svc} getting?",
                                                              {"metric": "throughput"}),
    ("how fast is {svc} responding (median)?", {"metric": "latency_p50"}),
    ("is anything queuing up in {svc}?", {"metric": "queue_depth"}),
    ("what's {svc}'s p99 been {win}", {"metric": "latency_p99"}), ("{svc} median latency {win}",
                                                                   {"metric": "latency_p50"}),
    ("is {svc} running hot on cpu", {"metric": "cpu"}), ("is {svc} leaking memory? show mem {win}",
                                                         {"metric": "memory"}),
    ("how much traffic is {svc} taking {win}", {"metric": "throughput"}),
    ("current error rate for {svc}", {"metric": "error_rate"}), ("replica count of {svc}", {"metric": "replicas"}),
    ("{svc} queue {win}", {"metric": "queue_depth"}), ("what's the p50 for {svc} {win}", {"metric": "latency_p50"}),
]

SEARCH_LOGS: list[Template] = [
    ("search logs for {q}", E), ("grep {svc} logs for {q}", E), ("find {q} in the logs {win}", E),
    ("any {q} in {svc} logs?", E), ("show {lvl} logs from {svc}", E), ("{svc} {lvl} logs {win}", E),
    ("show me the last {lim} {lvl} lines from {svc}", E), ("logs for {svc}", E), ("tail {svc} logs", E),
    ("pull {lim} log lines mentioning {q}", E), ("what's in the {svc} logs {win}", E),
    ("search {svc} logs for {q} {win}, max {lim}", E), ("any {lvls} logged {win}?", E),
    ("look for {q} across all services", E), ("{q} in logs?", E), ("show recent {lvls}", E),
    ("did {svc} log any {q}", E), ("get the {lvl} logs, last {lim}", E), ("search all logs for {q} at {lvl} level", E),
    ("find log lines containing {q} from {svc} {win}", E), ("first {lim} {lvl} entries from {svc}", E),
    ("check the logs {win}", E), ("logs pls", E), ("show logs", E), ("{svc} logs", E),
    ("grep for {q}", E), ("{lvl} logs {win}", E), ("any {lvls} from {svc} {win}?", E),
    ("show {lim} lines of {svc} logs", E), ("search logs: {q}, service {svc}, level {lvl}", E),
    ("can you look through the {svc} logs for {q}?", E), ("what is {svc} logging", E),
    ("log search {q} {win}", E), ("latest {lim} log entries", E), ("{lvls} in the last {dur}", E),
    ("did anything log {q} {win}", E), ("has {svc} logged {lvls} {win}?", E), ("dump {svc} {lvl} logs", E),
    ("who is logging {q}?", E), ("look at the {lvl} logs for {svc}, {lim} lines max", E),
    ("give me {lim} {lvls} from {svc} {win}", E), ("show the {svc} log lines with {q}", E),
    ("are there {q} messages in {svc}?", E), ("find {q} {win}", E), ("scan logs for {q} in {svc}", E),
]

GET_TOPOLOGY: list[Template] = [
    ("show the whole graph", E), ("show the service graph", E), ("what depends on {svc}", E),
    ("what does {svc} call", E), ("who calls {svc}?", E), ("dependencies of {svc}", E),
    ("{svc} upstreams and downstreams", E), ("topology for {svc}", E), ("draw the architecture", E),
    ("how are the services connected?", E), ("map out {svc}'s neighbours", E), ("which services talk to {svc}", E),
    ("what's downstream of {svc}", E), ("show me the dependency map", E), ("service topology", E),
    ("what calls into {svc}?", E), ("blast radius of {svc}", E), ("callers of {svc}", E), ("get topology", E),
    ("list all services and their dependencies", E), ("print the call graph", E), ("who depends on {svc}", E),
    ("what are {svc}'s dependencies?", E), ("show {svc} in the graph", E), ("full dependency graph pls", E),
    ("what services does {svc} rely on", E), ("show me the topology", E), ("neighbours of {svc}", E),
    ("what's upstream of {svc}?", E), ("architecture overview", E), ("how does traffic flow between services?", E),
    ("which services are connected to {svc}", E), ("entire service map", E), ("graph of all services", E),
]

ROOT_CAUSE: list[Template] = [
    ("why is {svc} slow?", E), ("what's causing the {metric} spike on {svc}", E), ("root cause {svc} {metric}", E),
    ("rca on {svc}", E), ("find the root cause", E), ("why is {svc} erroring?", {"metric": "error_rate"}),
    ("what's wrong with {svc}?", E), ("{svc} {metric} is through the roof, why", E),
    ("why did {svc} {metric} jump {win}", E), ("investigate {svc} {win}", E), ("what broke?", E),
    ("diagnose {svc}", E), ("why is {svc} using so much memory", {"metric": "memory"}),
    ("why is cpu high on {svc}", {"metric": "cpu"}), ("why is {svc} backing up?", {"metric": "queue_depth"}),
    ("{svc} is slow, what's going on?", E), ("who's to blame for the {svc} slowdown", E),
    ("what's the root cause of the outage {win}", E), ("why is the site slow", {"service": "frontend"}),
    ("why are {svc} requests failing", {"metric": "error_rate"}), ("{svc} keeps timing out, why?", E),
    ("run root cause analysis for {svc} {metric} {win}", E), ("what is behind the {metric} regression in {svc}", E),
    ("where is the problem coming from?", E), ("why is {svc} throwing 500s", {"metric": "error_rate"}),
    ("figure out why {svc} is degraded", E), ("what's the culprit for {svc} being slow {win}", E),
    ("why are we seeing high {metric} on {svc}?", E), ("root-cause the {svc} incident", E),
    ("which service is causing this?", E), ("{svc} latency went up, find the cause", {"metric": "latency_p99"}),
    ("why is {svc} returning errors {win}", {"metric": "error_rate"}), ("analyze the root cause on {svc}", E),
    ("why's {svc} so sluggish today", E), ("explain the {svc} {metric} anomaly", E),
    ("what's making {svc} slow", E), ("can you find out why {svc} is failing?", {"metric": "error_rate"}),
    ("why is throughput dropping on {svc}", {"metric": "throughput"}), ("what's up with {svc}", E),
]

RECOMMEND_SCALING: list[Template] = [
    ("how many replicas should {svc} have?", E), ("recommend a replica count for {svc}", E),
    ("should we scale {svc}?", E), ("what does the scaling policy say for {svc}", E), ("scaling advice for {svc}", E),
    ("is {svc} under-provisioned?", E), ("suggest replicas for {svc}", E), ("does {svc} need more pods?", E),
    ("right-size {svc}", E), ("what replica count would you recommend for {svc}", E),
    ("ask the scaling policy about {svc}", E), ("ideal number of instances for {svc}?", E),
    ("recommend scaling for {svc}", E), ("is {svc} over-provisioned?", E), ("how big should {svc} be", E),
    ("what's the right number of pods for {svc}", E), ("scaling recommendation: {svc}", E),
    ("would more replicas help {svc}?", E), ("do we have enough {svc} capacity?", E),
    ("how should I scale {svc}", E), ("can {svc} be scaled down safely?", E), ("capacity check for {svc}", E),
    ("what would you scale {svc} to?", E), ("does {svc} need scaling", E),
]

SCALE_SERVICE: list[Template] = [
    ("scale {svc} to {n}", E), ("scale {svc} to {n} replicas", E), ("set {svc} replicas to {n}", E),
    ("bump {svc} to {n} pods", E), ("give {svc} {n} replicas", E), ("{svc} -> {n} replicas", E),
    ("resize {svc} to {n} instances", E), ("scale {svc} up to {n}", E), ("scale down {svc} to {n}", E),
    ("run {n} replicas of {svc}", E), ("i want {n} {svc} pods", E), ("make it {n} replicas for {svc}", E),
    ("{svc} needs {n} replicas, do it", E), ("set replica count of {svc} = {n}", E), ("scale out {svc} to {n}", E),
    ("kubectl scale {svc} --replicas={n}", E), ("increase {svc} to {n} replicas", E),
    ("drop {svc} to {n} replicas", E), ("scale {svc} {n}", E), ("{n} replicas for {svc}", E),
    ("change {svc} to {n} pods", E), ("take {svc} to {n} instances", E), ("go to {n} replicas on {svc}", E),
    ("reduce {svc} to {n} replicas", E), ("add capacity: {svc} at {n} replicas", E),
    ("set {svc} to {n}", E), ("we need {n} copies of {svc} running", E), ("scale the {svc} deployment to {n}", E),
    ("bring {svc} down to {n} pods", E), ("upscale {svc} to {n}", E), ("{svc} replicas={n}", E),
]

RESTART_SERVICE: list[Template] = [
    ("restart {svc}", E), ("bounce {svc}", E), ("reboot {svc}", E), ("kick {svc}", E), ("cycle the {svc} pods", E),
    ("do a rolling restart of {svc}", E), ("{svc} needs a restart", E), ("kill and restart {svc}", E),
    ("give {svc} a restart", E), ("restart the {svc} pods", E), ("kubectl rollout restart {svc}", E),
    ("turn {svc} off and on again", E), ("recycle {svc}", E), ("restart all {svc} replicas", E),
    ("can you bounce the {svc} pods?", E), ("{svc} is stuck, restart it", E), ("relaunch {svc}", E),
    ("restart {svc} now", E), ("{svc} crashed, bring it back with a restart", E), ("fresh restart for {svc}", E),
    ("power cycle {svc}", E), ("redeploy {svc} pods (restart)", E), ("soft restart {svc}", E),
]

ROLLBACK: list[Template] = [
    ("roll back {svc}", E), ("rollback {svc}", E), ("revert the last deploy of {svc}", E),
    ("undo {svc}'s deployment", E), ("roll {svc} back to the previous version", E),
    ("{svc} deploy is bad, roll it back", E), ("revert {svc}", E), ("go back to the previous release of {svc}", E),
    ("kubectl rollout undo {svc}", E), ("undo the latest release on {svc}", E), ("back out the {svc} change", E),
    ("rollback the {svc} deployment", E), ("the new {svc} version is broken, revert it", E),
    ("restore {svc} to the last good deploy", E), ("roll back the {svc} release", E),
    ("downgrade {svc} to the prior version", E), ("revert {svc} to its previous deployment", E),
    ("undo the deploy on {svc}", E), ("{svc}: rollback please", E), ("pull back the {svc} rollout", E),
]

RUN_RUNBOOK: list[Template] = [
    ("run the {rb} runbook on {svc}", E), ("execute {rb} for {svc}", E), ("start the {rb} playbook against {svc}", E),
    ("apply runbook {rb} to {svc}", E), ("{rb} runbook, {svc}", E), ("kick off {rb} on {svc}", E),
    ("use the {rb} procedure for {svc}", E), ("run runbook {rb} service {svc}", E),
    ("trigger the {rb} runbook for {svc}", E), ("follow the {rb} runbook for {svc}", E), ("{svc}: run {rb}", E),
    ("launch the {rb} runbook on {svc}", E), ("do the {rb} playbook for {svc}", E),
    ("runbook {rb} on {svc} please", E), ("go through the {rb} steps for {svc}", E),
    ("execute runbook {rb} against {svc}", E), ("start {rb} remediation on {svc}", E),
    ("run {rb} against {svc}", E), ("invoke the {rb} runbook, target {svc}", E),
]

POST_SUMMARY: list[Template] = [
    ("post a summary to {ch}", E), ("post the incident summary", E), ("send the summary to slack", E),
    ("share the incident writeup in {ch}", E), ("post it to {ch}", E), ("update {ch} with the summary", E),
    ("write up the incident and post it", E), ("notify {ch}", E), ("send an incident summary to {ch}", E),
    ("post summary", E), ("let {ch} know what happened", E), ("summarize the incident in slack", E),
    ("drop a summary in {ch}", E), ("publish the incident report to {ch}", E), ("tell {ch} what we found", E),
    ("post the findings to {ch}", E), ("share a recap in {ch}", E), ("send the incident summary", E),
    ("slack the summary to {ch}", E), ("post an update to slack", E), ("announce the incident summary in {ch}", E),
    ("write the postmortem summary to {ch}", E), ("broadcast the summary", E), ("summary to {ch} pls", E),
]

RESPOND: list[Template] = [
    ("hi", {"text": GREETING}), ("hello", {"text": GREETING}), ("hey keel", {"text": GREETING}),
    ("good morning", {"text": GREETING}), ("yo", {"text": GREETING}), ("hey there, you around?", {"text": GREETING}),
    ("thanks", {"text": THANKS}), ("thank you!", {"text": THANKS}), ("cheers", {"text": THANKS}),
    ("great, thanks", {"text": THANKS}), ("ty", {"text": THANKS}), ("perfect, that's all", {"text": THANKS}),
    ("what can you do?", {"text": CAPABILITIES}), ("help", {"text": CAPABILITIES}),
    ("what tools do you have", {"text": CAPABILITIES}), ("how do I use you?", {"text": CAPABILITIES}),
    ("what are you able to do for me", {"text": CAPABILITIES}), ("list your capabilities", {"text": CAPABILITIES}),
    ("what's the weather like", {"text": OFF_TOPIC}), ("tell me a joke", {"text": OFF_TOPIC}),
    ("write a poem about kubernetes", {"text": OFF_TOPIC}), ("who won the game last night?", {"text": OFF_TOPIC}),
    ("what's 2+2", {"text": OFF_TOPIC}), ("translate hello to french", {"text": OFF_TOPIC}),
    ("order me a pizza", {"text": OFF_TOPIC}), ("what's the capital of France?", {"text": OFF_TOPIC}),
    ("book a meeting room for 3pm", {"text": OFF_TOPIC}), ("recommend a good movie", {"text": OFF_TOPIC}),
    ("restart it", {"text": WHICH_SERVICE}), ("scale it up", {"text": WHICH_SERVICE}),
    ("roll it back", {"text": WHICH_SERVICE}), ("fix it", {"text": WHICH_SERVICE}),
    ("scale {svc}", {"text": HOW_MANY}), ("change the replica count of {svc}", {"text": HOW_MANY}),
    ("restart the {x} service", {"text": "There is no service called {x}."}),
    ("show cpu for {x}", {"text": "There is no service called {x}."}),
    ("roll back {x}", {"text": "There is no service called {x}."}),
]

UNKNOWN_SERVICES = ["billing", "auth", "inventory", "search", "users", "gateway", "kafka", "postgres", "login",
                    "notifications", "orders", "analytics"]

FAMILIES: dict[str, list[Template]] = {
    "query_metrics": QUERY_METRICS,
    "search_logs": SEARCH_LOGS,
    "get_topology": GET_TOPOLOGY,
    "root_cause_analysis": ROOT_CAUSE,
    "recommend_scaling": RECOMMEND_SCALING,
    "scale_service": SCALE_SERVICE,
    "restart_service": RESTART_SERVICE,
    "rollback_deployment": ROLLBACK,
    "run_runbook": RUN_RUNBOOK,
    "post_incident_summary": POST_SUMMARY,
    "respond": RESPOND,
}

# Relative sampling weight of each tool's families in the single-step data.
WEIGHTS: dict[str, float] = {
    "query_metrics": 2.2, "search_logs": 2.4, "get_topology": 0.9, "root_cause_analysis": 1.8,
    "recommend_scaling": 1.0, "scale_service": 1.4, "restart_service": 0.8, "rollback_deployment": 0.8,
    "run_runbook": 1.1, "post_incident_summary": 0.9, "respond": 0.8,
}

IMPERATIVE_VERBS = frozenset(
    "show check graph plot query get fetch display look search grep find pull tail scan dump give draw map print "
    "list scale set bump resize run increase drop change take go reduce bring upscale restart bounce reboot kick "
    "cycle do recycle relaunch power redeploy soft roll rollback revert undo restore downgrade back execute start "
    "apply trigger follow launch invoke post send share update write notify publish tell slack announce broadcast "
    "summarize drop rca diagnose investigate analyze explain recommend suggest ask right-size figure".split()
)

# Second wave of phrasings (appended so earlier family indices, and so the train/dev split, stay stable).
QUERY_METRICS += [
    ("{win}, what was {svc}'s {metric}?", E), ("we're getting paged for {svc} - what's the {metric} been {win}?", E),
    ("can you check whether {svc} {metric} is ok", E), ("please provide the {metric} for {svc} {win}", E),
    ("give me a breakdown of {svc} {metric}", E), ("what does {svc} look like in terms of {metric}?", E),
    ("i'm curious about {metric} on {svc} {win}", E), ("{svc} - {metric} - {dur}", E),
    ("could you grab {metric} numbers for {svc}?", E), ("is the {metric} of {svc} normal {win}?", E),
    ("pull up {metric} for {svc} for the last {dur}", E), ("how many replicas is {svc} at", {"metric": "replicas"}),
    ("how is {svc} memory trending {win}", {"metric": "memory"}), ("are requests piling up on {svc}?",
                                                                  {"metric": "queue_depth"}),
    ("{svc} p99 {dur}", {"metric": "latency_p99"}), ("is {svc} erroring right now", {"metric": "error_rate"}),
    ("what's the request rate on {svc} {win}", {"metric": "throughput"}),
    ("median response time of {svc} please", {"metric": "latency_p50"}),
]
SEARCH_LOGS += [
    ("we're seeing {q} somewhere, search the logs", E), ("can you check the logs for {q}?", E),
    ("what did {svc} log {win}", E), ("show me {svc}'s {lvl} output, {lim} lines", E),
    ("{win}, any {lvls} from {svc}?", E), ("pull the logs mentioning {q} for {svc}", E),
    ("i need the last {lim} log lines from {svc}", E), ("are there any {lvls} in the logs?", E),
    ("search for {q} in {svc} {lvl} logs", E), ("look for {q} in the logs, limit {lim}", E),
    ("fetch {lvl} logs {win}", E), ("has anything logged {q} {win}?", E), ("log lines for {svc} {win}", E),
    ("check {svc} logs for {lvls}", E), ("{svc} logs with {q} pls", E),
]
GET_TOPOLOGY += [
    ("what is {svc} connected to?", E), ("which services would break if {svc} goes down", E),
    ("show everything that calls {svc} and everything it calls", E), ("give me the service dependency graph", E),
    ("how do the services depend on each other", E), ("what sits behind {svc}?", E),
    ("visualize the topology", E), ("where does {svc} sit in the architecture", E),
]
ROOT_CAUSE += [
    ("we're getting alerts for {svc} {metric}, can you dig in?", E), ("dig into {svc}", E),
    ("{svc} looks unhealthy {win}, what's the root cause", E), ("something's off with {svc}, figure out what", E),
    ("why is {svc} so slow right now?", E), ("what's causing {svc} to fail", {"metric": "error_rate"}),
    ("why does {svc} have so many errors?", {"metric": "error_rate"}), ("explain why {svc} is degraded {win}", E),
    ("trace the source of the {svc} {metric} problem", E), ("customers report {svc} is slow, why?", E),
    ("why is everything slow?", E), ("what's the root cause here?", E),
    ("why is {svc} memory climbing", {"metric": "memory"}), ("why is {svc} pegged on cpu?", {"metric": "cpu"}),
]
RECOMMEND_SCALING += [
    ("how many pods does {svc} need?", E), ("what replica count should we run for {svc}", E),
    ("is {svc} sized correctly?", E), ("give me a scaling recommendation for {svc}", E),
    ("should {svc} get more replicas?", E), ("what would the autoscaler do with {svc}", E),
]
SCALE_SERVICE += [
    ("please scale {svc} to {n} replicas", E), ("let's run {svc} with {n} replicas", E),
    ("{svc} should have {n} replicas, set it", E), ("can we get {svc} to {n} pods?", E),
    ("update {svc} replica count to {n}", E), ("spin {svc} up to {n} instances", E),
    ("scale {svc} in to {n}", E), ("put {svc} on {n} replicas", E),
]
RESTART_SERVICE += [
    ("please restart the {svc} service", E), ("{svc} is hung, bounce it", E), ("can we restart {svc}?", E),
    ("restart {svc} to clear the leak", E), ("roll the {svc} pods", E), ("bounce every {svc} replica", E),
]
ROLLBACK += [
    ("please roll back {svc}", E), ("{svc} broke after the deploy, revert", E), ("can we roll back {svc}?", E),
    ("undo the last {svc} rollout", E), ("revert the bad {svc} release", E), ("roll back the latest {svc} deploy", E),
]
RUN_RUNBOOK += [
    ("please run the {rb} runbook for {svc}", E), ("can you run {rb} on {svc}?", E),
    ("{svc} needs the {rb} runbook", E), ("execute the {rb} playbook on {svc}", E),
    ("runbook: {rb}, service: {svc}", E), ("handle {svc} with the {rb} runbook", E),
]
POST_SUMMARY += [
    ("post the summary", E), ("please post an incident summary to {ch}", E), ("send a writeup to {ch}", E),
    ("can you post what we found to {ch}?", E), ("share the incident summary", E), ("let slack know", E),
    ("summarize this for {ch}", E), ("post to slack", E),
]
RESPOND += [
    ("good evening", {"text": GREETING}), ("thanks a lot", {"text": THANKS}), ("nice work", {"text": THANKS}),
    ("what is keel?", {"text": CAPABILITIES}), ("what commands do you understand", {"text": CAPABILITIES}),
    ("how's your day going", {"text": OFF_TOPIC}), ("write me a sql query", {"text": OFF_TOPIC}),
    ("what time is it", {"text": OFF_TOPIC}), ("scale something", {"text": WHICH_SERVICE}),
    ("restart the {x}", {"text": "There is no service called {x}."}),
]

# More phrasing families, appended (never inserted) so that earlier train/dev splits stay as they were.
QUERY_METRICS += templates_more.QUERY_METRICS
SEARCH_LOGS += templates_more.SEARCH_LOGS
GET_TOPOLOGY += templates_more.GET_TOPOLOGY
ROOT_CAUSE += templates_more.ROOT_CAUSE
RECOMMEND_SCALING += templates_more.RECOMMEND_SCALING
SCALE_SERVICE += templates_more.SCALE_SERVICE
RESTART_SERVICE += templates_more.RESTART_SERVICE
ROLLBACK += templates_more.ROLLBACK
RUN_RUNBOOK += templates_more.RUN_RUNBOOK
POST_SUMMARY += templates_more.POST_SUMMARY
RESPOND += templates_more.RESPOND
