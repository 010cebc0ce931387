"""Fair distribution of leads, deals and smart-process items by workload and work-day status."""
