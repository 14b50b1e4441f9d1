//! VirtualMachine conditions.

use super::condition_set;

condition_set! {
    types {
        /// The VM's IP address is bound and attached.
        VirtualMachineIpAddressReady = "VirtualMachineIPAddressReady",
        /// The MAC addresses of additional interfaces are ready.
        VirtualMachineMacAddressReady = "VirtualMachineMACAddressReady",
        /// The VirtualMachineClass exists and is Ready.
        VirtualMachineClassReady = "VirtualMachineClassReady",
        /// Every block device is ready.
        BlockDevicesReady = "BlockDevicesReady",
        /// The guest is running.
        Running = "Running",
        /// A live migration is pending or in progress.
        Migrating = "Migrating",
        /// Whether the VM can be live-migrated.
        Migratable = "Migratable",
        /// Provisioning data (cloud-init/sysprep) is available.
        ProvisioningReady = "ProvisioningReady",
        /// The guest agent responds.
        AgentReady = "AgentReady",
        /// The guest agent version is not supported.
        AgentVersionNotSupported = "AgentVersionNotSupported",
        /// The spec is applied to the running VM (written only while False).
        ConfigurationApplied = "ConfigurationApplied",
        /// Some changes wait for a restart (written only while True).
        AwaitingRestartToApplyConfiguration = "AwaitingRestartToApplyConfiguration",
        /// The guest file systems are frozen.
        FilesystemFrozen = "FilesystemFrozen",
        /// The VM matches the sizing policy of its class.
        SizingPolicyMatched = "SizingPolicyMatched",
        /// A snapshot of the VM is being taken.
        Snapshotting = "Snapshotting",
        /// The VM runs the current firmware.
        FirmwareUpToDate = "FirmwareUpToDate",
        /// The VM must leave its node.
        EvictionRequired = "EvictionRequired",
        /// The additional networks are ready.
        NetworkReady = "NetworkReady",
        /// The VM is held stopped for maintenance (restore).
        Maintenance = "Maintenance",
        /// The GPU classes exist and are ready.
        GpuClassReady = "GPUClassReady",
        /// Automatic core fraction adjustment state.
        CoreFractionAutoscaling = "CoreFractionAutoscaling",
    }
    /// Reasons of `VirtualMachineIPAddressReady`.
    IpAddressReadyReason {
        /// Bound and attached.
        VirtualMachineIpAddressReady = "VirtualMachineIPAddressReady",
        /// Not bound yet.
        VirtualMachineIpAddressNotReady = "VirtualMachineIPAddressNotReady",
        /// Bound, but the guest does not carry the address on its main interface.
        VirtualMachineIpAddressNotAssigned = "VirtualMachineIPAddressNotAssigned",
        /// The address is not available.
        VirtualMachineIpAddressNotAvailable = "VirtualMachineIPAddressNotAvailable",
    }
    /// Reasons of `VirtualMachineMACAddressReady`.
    MacAddressReadyReason {
        /// All MACs are ready.
        VirtualMachineMacAddressReady = "VirtualMachineMACAddressReady",
        /// Some MAC is not ready.
        VirtualMachineMacAddressNotReady = "VirtualMachineMACAddressNotReady",
        /// Some MAC is not available.
        VirtualMachineMacAddressNotAvailable = "VirtualMachineMACAddressNotAvailable",
    }
    /// Reasons of `VirtualMachineClassReady`.
    ClassReadyReason {
        /// The class is Ready.
        VirtualMachineClassReady = "VirtualMachineClassReady",
        /// The class is missing or not Ready.
        VirtualMachineClassNotReady = "VirtualMachineClassNotReady",
    }
    /// Reasons of `BlockDevicesReady`.
    BlockDevicesReadyReason {
        /// All devices are ready.
        BlockDevicesReady = "BlockDevicesReady",
        /// Disks wait for the VM to be scheduled (WaitForFirstConsumer).
        WaitingForWaitForFirstConsumerBlockDevicesToBeReady = "WaitingForWaitForFirstConsumerBlockDevicesToBeReady",
        /// Some device is not ready.
        BlockDevicesNotReady = "BlockDevicesNotReady",
        /// More than 16 devices.
        BlockDeviceLimitExceeded = "BlockDeviceLimitExceeded",
    }
    /// Reasons of `Running`.
    RunningReason {
        /// The guest runs.
        Running = "Running",
        /// The guest does not run.
        NotRunning = "NotRunning",
        /// The firmware found nothing to boot.
        NoBootableDevice = "NoBootableDevice",
        /// The hypervisor reported an error.
        InternalVirtualMachineError = "InternalVirtualMachineError",
        /// The VM's pod did not start.
        PodNotStarted = "PodNotStarted",
        /// The VM's pod is terminating.
        PodTerminating = "PodTerminating",
        /// The VM's pod is missing.
        PodNotFound = "PodNotFound",
        /// The pod has no readiness condition yet.
        PodConditionMissing = "PodConditionMissing",
        /// The guest is not running.
        GuestNotRunning = "GuestNotRunning",
    }
    /// Reasons of `Migrating`.
    MigratingReason {
        /// Waiting to start.
        Pending = "Pending",
        /// The target is ready.
        ReadyToMigrate = "ReadyToMigrate",
        /// Copying memory.
        InProgress = "InProgress",
    }
    /// Reasons of `Migratable`.
    MigratableReason {
        /// The VM can migrate.
        VirtualMachineMigratable = "VirtualMachineMigratable",
        /// The VM cannot migrate.
        VirtualMachineNonMigratable = "VirtualMachineNonMigratable",
        /// Some disk cannot move.
        VirtualMachineDisksNotMigratable = "VirtualMachineDisksNotMigratable",
        /// Disks should be migrated along with the VM.
        VirtualMachineDisksShouldBeMigrating = "VirtualMachineDisksShouldBeMigrating",
        /// Host devices pin the VM.
        VirtualMachineHostDevicesNotMigratable = "VirtualMachineHostDevicesNotMigratable",
    }
    /// Reasons of `ProvisioningReady`.
    ProvisioningReadyReason {
        /// Provisioning data is available.
        ProvisioningReady = "ProvisioningReady",
        /// Provisioning data is missing or invalid.
        ProvisioningNotReady = "ProvisioningNotReady",
        /// Available, with warnings about its content.
        ProvisioningReadyWithWarnings = "ProvisioningReadyWithWarnings",
    }
    /// Reasons of `AgentReady`.
    AgentReadyReason {
        /// The agent responds.
        AgentReady = "AgentReady",
        /// The agent does not respond.
        AgentNotReady = "AgentNotReady",
    }
    /// Reasons of `AgentVersionNotSupported`.
    AgentVersionNotSupportedReason {
        /// The agent version is supported.
        AgentVersionSupported = "AgentVersionSupported",
        /// The agent version is not supported.
        AgentVersionNotSupported = "AgentVersionNotSupported",
    }
    /// Reasons of `ConfigurationApplied`.
    ConfigurationAppliedReason {
        /// Applied.
        ConfigurationApplied = "ConfigurationApplied",
        /// Not applied yet.
        ConfigurationNotApplied = "ConfigurationNotApplied",
    }
    /// Reasons of `AwaitingRestartToApplyConfiguration`.
    AwaitingRestartReason {
        /// Spec changes need a restart.
        ChangesPendingRestart = "ChangesPendingRestart",
        /// The hypervisor requires a restart on its own.
        UnexpectedState = "UnexpectedState",
        /// No restart is needed.
        NoRestartRequired = "NoRestartRequired",
    }
    /// Reasons of `FilesystemFrozen`.
    FilesystemFrozenReason {
        /// File systems are frozen.
        Frozen = "Frozen",
    }
    /// Reasons of `SizingPolicyMatched`.
    SizingPolicyMatchedReason {
        /// The VM does not fit the policy.
        SizingPolicyNotMatched = "SizingPolicyNotMatched",
        /// The class is being deleted.
        VirtualMachineClassTerminating = "VirtualMachineClassTerminating",
        /// The class does not exist.
        VirtualMachineClassNotFound = "VirtualMachineClassNotFound",
    }
    /// Reasons of `Snapshotting`.
    SnapshottingReason {
        /// A snapshot is about to start.
        WaitingForTheSnapshotToStart = "WaitingForTheSnapshotToStart",
        /// A snapshot is being taken.
        SnapshottingInProgress = "SnapshottingInProgress",
    }
    /// Reasons of `FirmwareUpToDate`.
    FirmwareUpToDateReason {
        /// Current firmware.
        FirmwareUpToDate = "FirmwareUpToDate",
        /// The firmware needs an update (migration).
        FirmwareOutOfDate = "FirmwareOutOfDate",
    }
    /// Reasons of `EvictionRequired`.
    EvictionRequiredReason {
        /// The node is being drained.
        EvictionRequired = "EvictionRequired",
    }
    /// Reasons of `NetworkReady`.
    NetworkReadyReason {
        /// Networks are ready.
        NetworkReady = "NetworkReady",
        /// Some network is not ready.
        NetworkNotReady = "NetworkNotReady",
        /// Additional networks need the SDN module.
        SdnModuleDisabled = "SDNModuleDisabled",
    }
    /// Reasons of `Maintenance`.
    MaintenanceReason {
        /// A restore holds the VM.
        RestoreInProgress = "RestoreInProgress",
    }
    /// Reasons of `GPUClassReady`.
    GpuClassReadyReason {
        /// GPU classes are ready.
        GpuClassReady = "GPUClassReady",
        /// A GPU class is missing.
        GpuClassNotFound = "GPUClassNotFound",
        /// A GPU class is not ready.
        GpuClassNotReady = "GPUClassNotReady",
    }
    /// Reasons of `CoreFractionAutoscaling`.
    CoreFractionAutoscalingReason {
        /// Active.
        CoreFractionAutoscalingEnabled = "CoreFractionAutoscalingEnabled",
        /// Waiting for the first recommendation.
        WaitingForRecommendation = "WaitingForRecommendation",
        /// Off.
        CoreFractionAutoscalingDisabled = "CoreFractionAutoscalingDisabled",
        /// In-place resize is not enabled.
        InPlaceResizeDisabled = "InPlaceResizeDisabled",
        /// The sizing policy offers too few core fraction steps.
        SizingPolicyHasNoSteps = "SizingPolicyHasNoSteps",
    }
}
