// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Cheats} from "./Cheats.sol";

/// @notice Block headers RLP-encoded as a post-Merge chain writes them, for proving a block's prevrandao.
abstract contract Headers is Cheats {
    /// @dev A header for block `number` with RANDAO value `mix`, made that block's hash (which must be readable).
    function _provenHeader(uint256 number, bytes32 mix) internal returns (bytes memory header) {
        header = _header(number, mix);
        vm.setBlockhash(number, keccak256(header));
    }

    /// @dev The test RANDAO value of block `number`.
    function _mixOf(uint256 number) internal pure returns (bytes32) {
        return keccak256(abi.encode("randao", number));
    }

    function _header(uint256 number, bytes32 mix) internal pure returns (bytes memory) {
        bytes[16] memory items = [
            _string(abi.encodePacked(keccak256(abi.encode(number - 1)))), // parent hash
            _string(abi.encodePacked(bytes32(0))), // ommers hash
            _string(abi.encodePacked(address(0xC0FFEE))), // coinbase
            _string(abi.encodePacked(keccak256("state"))),
            _string(abi.encodePacked(keccak256("transactions"))),
            _string(abi.encodePacked(keccak256("receipts"))),
            _string(new bytes(256)), // logs bloom
            _uint(0), // difficulty
            _uint(number),
            _uint(30_000_000), // gas limit
            _uint(21_000), // gas used
            _uint(1_000_000 + number), // timestamp
            _string(""), // extra data
            _string(abi.encodePacked(mix)),
            _string(new bytes(8)), // nonce
            _uint(7) // base fee
        ];
        bytes memory fields;
        for (uint256 i; i < items.length; ++i) {
            fields = bytes.concat(fields, items[i]);
        }
        return bytes.concat(_length(0xc0, fields.length), fields);
    }

    function _uint(uint256 value) private pure returns (bytes memory) {
        uint256 size;
        while (size < 32 && value >> (8 * size) != 0) ++size;
        bytes memory big = new bytes(size);
        for (uint256 i; i < size; ++i) {
            big[i] = bytes1(uint8(value >> (8 * (size - 1 - i))));
        }
        return _string(big);
    }

    function _string(bytes memory value) private pure returns (bytes memory) {
        if (value.length == 1 && uint8(value[0]) < 0x80) return value;
        return bytes.concat(_length(0x80, value.length), value);
    }

    /// @dev An RLP length prefix: `base` is 0x80 for strings, 0xc0 for lists.
    function _length(uint8 base, uint256 length) private pure returns (bytes memory) {
        if (length < 56) return abi.encodePacked(uint8(base + length));
        bytes memory big = length < 256 ? abi.encodePacked(uint8(length)) : abi.encodePacked(uint16(length));
        return bytes.concat(abi.encodePacked(uint8(base + 55 + big.length)), big);
    }
}
