"""Bills and payments (账单、缴费): fees, bill runs, settlement, write-offs, arrears and online payment."""
