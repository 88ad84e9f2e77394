"""`glm5check cluster`: run glm5check on every node of a deployment through a launcher the cluster
already has (ssh, pdsh, Slurm's srun, kubectl exec) and judge the nodes as one deployment.

- `inventory`: the nodes (host, rank or role, serve script, ssh user/port, pod namespace/container).
- `transports`: the argument list that runs one command on one node through each launcher.
- `collect`: the two phases (node 0 first, then the others with node 0's address and NPU device IPs),
  bounded in parallelism and time; each node's standard output read as an untrusted report.
- `judge`: the cluster results: per node, node 0's facts, per-node reachability, and `compare`.
- `report`: the cluster report as JSON (schema `glm5check.cluster/v1`), JUnit or a table; `--output`.
"""
