// The Terraform/OpenTofu credentials helper entry: Terraform runs `terraform-credentials-<name>` from
// its plugin directory, and the executable's name picks the protocol (docs/protocols.md §6, §8).
import { runEntry } from '../client/run.js';
import { terraform } from '../protocols/terraform.js';

void runEntry(terraform);
