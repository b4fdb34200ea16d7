"""What serving (agent) and training (finetune) both need: the planner's prompt and call format, the summary
findings format, and the grounding checks that keep a model's text to the numbers and names it was given."""
